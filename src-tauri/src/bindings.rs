//! The TypeScript bindings of every DTO, generated with ts-rs into
//! `ui/src/lib/ipc/bindings/`. `UPDATE_BINDINGS=1 cargo test -p
//! productivitypro bindings` rewrites them; the test fails when the
//! committed files differ from what the Rust types say.

use std::path::PathBuf;

use ts_rs::{Config, ExportError, TS};

use crate::args::*;
use crate::dto::*;
use crate::error::IpcError;
use crate::health_dto::*;
use crate::settings::{DateFormat, Settings, Theme, TimeFormat, WeekStart};
use crate::sync_dto::*;
use crate::update_dto::*;

type Render = fn(&Config) -> Result<String, ExportError>;

fn one<T: TS + 'static>() -> (String, Render) {
    let path = T::output_path()
        .expect("every DTO has an export path")
        .display()
        .to_string();
    (path, |cfg| T::export_to_string(cfg))
}

/// Every exported type, by file name.
pub fn all() -> Vec<(String, Render)> {
    vec![
        one::<IpcError>(),
        one::<DueDto>(),
        one::<DueInput>(),
        one::<RecurrenceDto>(),
        one::<TaskDto>(),
        one::<ListDto>(),
        one::<TagDto>(),
        one::<SidebarCounts>(),
        one::<HistoryState>(),
        one::<Changes>(),
        one::<Snapshot>(),
        one::<ViewSpec>(),
        one::<Filter>(),
        one::<Sort>(),
        one::<ViewSummary>(),
        one::<ViewResult>(),
        one::<QuickAddPreview>(),
        one::<TaskPatchDto>(),
        one::<SlotKind>(),
        one::<SlotInfo>(),
        one::<VaultState>(),
        one::<LaunchRequest>(),
        one::<AppStatus>(),
        one::<Created>(),
        one::<RecoveryAnswer>(),
        one::<Confirmed>(),
        one::<NewRecoveryKey>(),
        one::<UnlockMethod>(),
        one::<BackupInfo>(),
        one::<PreMigrationCopy>(),
        one::<PreMigrationRestoreArgs>(),
        one::<Exported>(),
        one::<LockReason>(),
        one::<LockedEvent>(),
        one::<QuickAddEvent>(),
        one::<NavigateView>(),
        one::<NavigateEvent>(),
        one::<Theme>(),
        one::<WeekStart>(),
        one::<TimeFormat>(),
        one::<DateFormat>(),
        one::<Settings>(),
        one::<VaultCreateArgs>(),
        one::<VaultConfirmRecoveryArgs>(),
        one::<PathArgs>(),
        one::<VaultUnlockArgs>(),
        one::<ViewQueryArgs>(),
        one::<TextArgs>(),
        one::<TaskAddArgs>(),
        one::<TaskUpdateArgs>(),
        one::<IdsArgs>(),
        one::<IdArgs>(),
        one::<TrashEmptyArgs>(),
        one::<TasksMoveArgs>(),
        one::<TasksTagArgs>(),
        one::<TasksPriorityArgs>(),
        one::<ListAddArgs>(),
        one::<ListUpdateArgs>(),
        one::<ListDeleteArgs>(),
        one::<SettingsSetArgs>(),
        one::<PassphraseSetArgs>(),
        one::<BackupRestoreArgs>(),
        one::<ExportToArgs>(),
        one::<ImportFromArgs>(),
        one::<ReminderSnoozeArgs>(),
        one::<SyncState>(),
        one::<SyncStatus>(),
        one::<SyncDeviceDto>(),
        one::<SyncSignedUp>(),
        one::<SyncSignInArgs>(),
        one::<SyncDeviceArgs>(),
        one::<SyncSignOutArgs>(),
        one::<SyncPassphraseArgs>(),
        one::<SyncRecoveryKeyArgs>(),
        one::<SyncRecoveryKey>(),
        one::<SyncRecoverArgs>(),
        one::<UpdateChannel>(),
        one::<UpdatePhase>(),
        one::<UpdateOfferDto>(),
        one::<UpdateProgress>(),
        one::<UpdateError>(),
        one::<UpdateState>(),
        one::<HealthState>(),
        one::<HealthField>(),
        one::<HealthEventDto>(),
        one::<HealthPreview>(),
        one::<HealthSetArgs>(),
    ]
}

/// `ui/src/lib/ipc/bindings` in this repository.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/ipc/bindings")
}

/// Every file as it should be: the types plus an `index.ts` exporting them.
pub fn render() -> Vec<(String, String)> {
    let cfg = Config::new();
    let mut files: Vec<(String, String)> = all()
        .into_iter()
        .map(|(path, render)| {
            let text = render(&cfg).unwrap_or_else(|e| panic!("{path}: {e}"));
            (path, text)
        })
        .collect();
    files.sort();
    let mut index =
        String::from("// Generated from the Rust DTOs (src-tauri/src/bindings.rs). Do not edit.\n");
    for (path, _) in &files {
        let module = path.trim_end_matches(".ts");
        index.push_str(&format!("export type * from './{module}';\n"));
    }
    files.push(("index.ts".into(), index));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_up_to_date() {
        let dir = dir();
        let update = std::env::var("UPDATE_BINDINGS").as_deref() == Ok("1");
        let files = render();
        let mut stale = Vec::new();
        for (name, text) in &files {
            let path = dir.join(name);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(name.clone());
            }
        }
        // Files of types that no longer exist.
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if !files.iter().any(|(n, _)| *n == name) {
                    if update {
                        std::fs::remove_file(e.path()).unwrap();
                    } else {
                        stale.push(format!("{name} (no such type)"));
                    }
                }
            }
        }
        assert!(
            stale.is_empty(),
            "ui/src/lib/ipc/bindings is out of date ({}); run UPDATE_BINDINGS=1 cargo test -p productivitypro bindings",
            stale.join(", ")
        );
    }
}
