//! Command arguments. Each command takes its arguments as one struct
//! (`Args<T>`), deserialized here, so a malformed call is refused with
//! `{code: "invalid_argument", message}` like every other error (Tauri's
//! own per-argument extraction rejects with a bare string). Unknown fields
//! are refused too: a misspelt `listID` must not be silently ignored.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use tauri::ipc::{CommandArg, CommandItem, InvokeBody, InvokeError};
use tauri::Runtime;
use ts_rs::TS;

use crate::dto::{
    double_option, Filter, Id, RecoveryAnswer, Sort, TaskPatchDto, UnlockMethod, ViewSpec,
};
use crate::error::IpcError;
use crate::settings::Settings;

pub struct Args<T>(pub T);

impl<'de, R: Runtime, T: DeserializeOwned> CommandArg<'de, R> for Args<T> {
    fn from_command(c: CommandItem<'de, R>) -> Result<Self, InvokeError> {
        let refused =
            |why: String| InvokeError::from(IpcError::invalid(format!("{}: {why}", c.name)));
        match c.message.payload() {
            InvokeBody::Json(v) => {
                // A command without arguments may be called with none.
                let v = if v.is_null() {
                    serde_json::Value::Object(Default::default())
                } else {
                    v.clone()
                };
                serde_json::from_value(v)
                    .map(Args)
                    .map_err(|e| refused(e.to_string()))
            }
            InvokeBody::Raw(_) => Err(refused("arguments must be JSON".into())),
        }
    }
}

macro_rules! args {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Deserialize, TS)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }
    };
}

args!(VaultCreateArgs {
    passphrase: Option<String>,
});
args!(VaultConfirmRecoveryArgs {
    answers: Vec<RecoveryAnswer>,
});
args!(PathArgs { path: String });
args!(VaultUnlockArgs {
    method: UnlockMethod,
    #[ts(optional)]
    #[serde(default)]
    secret: Option<String>,
});
args!(PreMigrationRestoreArgs {
    /// A name from `pre_migration_list`.
    name: String,
    method: UnlockMethod,
    #[ts(optional)]
    #[serde(default)]
    secret: Option<String>,
});
args!(ViewQueryArgs {
    view: ViewSpec,
    #[ts(optional)]
    #[serde(default)]
    filter: Option<Filter>,
    /// Missing or null: the view's own order.
    #[ts(optional)]
    #[serde(default)]
    sort: Option<Sort>,
});
args!(TextArgs { text: String });
args!(TaskAddArgs {
    text: String,
    #[ts(optional)]
    #[serde(default)]
    list_id: Option<Id>,
    #[ts(optional)]
    #[serde(default)]
    parent_id: Option<Id>,
    #[ts(optional)]
    #[serde(default)]
    due_today: Option<bool>,
});
args!(TaskUpdateArgs {
    id: Id,
    patch: TaskPatchDto,
});
args!(IdsArgs { ids: Vec<Id> });
args!(IdArgs { id: Id });
args!(TrashEmptyArgs {
    /// null: the whole trash.
    ids: Option<Vec<Id>>,
});
args!(TasksMoveArgs {
    ids: Vec<Id>,
    /// null: the Inbox.
    list_id: Option<Id>,
});
args!(TasksTagArgs {
    ids: Vec<Id>,
    add: Vec<String>,
    remove: Vec<String>,
});
args!(TasksPriorityArgs {
    ids: Vec<Id>,
    #[ts(type = "0 | 1 | 2 | 3 | 4")]
    priority: u8,
});
args!(ListAddArgs {
    name: String,
    #[ts(optional)]
    #[serde(default)]
    colour: Option<String>,
});
args!(
    /// A missing field stays; `colour: null` removes the colour.
    ListUpdateArgs {
        id: Id,
        #[ts(optional)]
        #[serde(default)]
        name: Option<String>,
        #[ts(optional, as = "Option<Option<String>>")]
        #[serde(default, with = "double_option")]
        colour: Option<Option<String>>,
        #[ts(optional)]
        #[serde(default)]
        archived: Option<bool>,
        #[ts(optional)]
        #[serde(default)]
        move_before: Option<Id>,
        #[ts(optional)]
        #[serde(default)]
        move_after: Option<Id>,
    }
);
args!(ListDeleteArgs {
    id: Id,
    with_tasks: bool,
});
args!(SettingsSetArgs { settings: Settings });
args!(PassphraseSetArgs {
    /// Required (and checked) when the vault already has a passphrase.
    current: Option<String>,
    next: String,
});
args!(BackupRestoreArgs {
    path: String,
    /// `passphrase` or `recoveryKey`: a backup has no keyring slot.
    method: UnlockMethod,
    secret: String,
});
args!(ExportToArgs {
    #[ts(type = "'json' | 'csv' | 'ical'")]
    format: String,
    path: String,
});
args!(ImportFromArgs {
    #[ts(type = "'json' | 'csv' | 'ical' | 'todoist' | 'taskwarrior'")]
    format: String,
    path: String,
    #[ts(optional)]
    #[serde(default)]
    list_name: Option<String>,
});
args!(ReminderSnoozeArgs {
    id: Id,
    minutes: u32,
});
args!(HealthSetArgs { enabled: bool });
