use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// ProductivityPro from the command line: the same encrypted vault the
/// desktop app uses.
#[derive(Parser, Debug)]
#[command(name = "pp", version, about)]
pub struct Cli {
    /// Vault folder (default: the OS data dir, e.g. ~/.local/share/productivitypro).
    #[arg(long, global = true, env = "PRODUCTIVITYPRO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Unlock with the passphrase in this file (first line) instead of the keyring.
    #[arg(long, global = true)]
    pub passphrase_file: Option<PathBuf>,
    /// Unlock with the recovery key in this file instead of the keyring.
    #[arg(long, global = true)]
    pub recovery_key_file: Option<PathBuf>,
    /// New passphrase (first line of this file) for add-passphrase/change-passphrase.
    #[arg(long, global = true)]
    pub new_passphrase_file: Option<PathBuf>,
    /// Never touch the OS keyring.
    #[arg(long, global = true)]
    pub no_keyring: bool,
    /// IANA time zone for dates (default: TZ or the system's zone).
    #[arg(long, global = true, env = "PRODUCTIVITYPRO_TZ")]
    pub tz: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new vault and print its recovery key (once).
    Init {
        /// Do not store a key in the OS keyring (use a passphrase instead).
        #[arg(long)]
        no_keyring: bool,
        /// Fail if the OS keyring cannot hold the key.
        #[arg(long, conflicts_with = "no_keyring")]
        require_keyring: bool,
    },
    /// Show quick-add, views, search and encryption on a throwaway vault.
    Demo,
    /// Add a task: `pp add Pay rent tomorrow 9am #home @bills !1`.
    Add {
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
        #[arg(long)]
        notes: Option<String>,
        /// List name (overrides #list in the text; created if missing).
        #[arg(long)]
        list: Option<String>,
        /// Make it a subtask of this task id (or unique prefix).
        #[arg(long)]
        parent: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List tasks: open ones, or a view; filters narrow it and combine.
    #[command(alias = "ls")]
    List(ListArgs),
    /// Show one task in full.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Complete tasks, as one action (a recurring task gets its next occurrence).
    Done {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Reopen completed tasks, as one action.
    Undone {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Change a task.
    Edit(EditArgs),
    /// Move tasks and their subtasks to the trash (`pp undo` or `pp trash restore` brings them back).
    Rm {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// The trash: list, restore, empty.
    Trash {
        #[command(subcommand)]
        cmd: Option<TrashCommand>,
    },
    /// Undo your last `pp` action (add, edit, done, rm, trash, lists, import, bulk actions).
    Undo,
    /// Redo the last action `pp undo` undid.
    Redo,
    /// Move tasks (with their subtasks) to a list, as one action.
    Move {
        #[arg(required = true)]
        ids: Vec<String>,
        /// List name or id.
        #[arg(long, required_unless_present = "inbox", conflicts_with = "inbox")]
        list: Option<String>,
        /// To the Inbox (no list).
        #[arg(long)]
        inbox: bool,
    },
    /// Add and remove tags on tasks, as one action.
    Tag {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        add: Vec<String>,
        #[arg(long)]
        remove: Vec<String>,
    },
    /// Set the priority (0 none, 1 most urgent … 4) of tasks, as one action.
    Priority {
        priority: u8,
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Find tasks whose title, notes, tags or list contain every word.
    Search {
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show and manage lists.
    Lists {
        #[command(subcommand)]
        cmd: Option<ListsCommand>,
    },
    /// Export everything: json (lossless), csv, ical.
    Export {
        #[arg(long, short)]
        format: String,
        /// Write here (atomically) instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Import: json, csv, ical, todoist (CSV), taskwarrior (JSON). All or nothing.
    Import {
        #[arg(long, short)]
        format: String,
        /// File to read, or - for standard input.
        file: PathBuf,
        /// Put imported tasks without a list into this list.
        #[arg(long)]
        list: Option<String>,
    },
    /// Keys, slots and backups.
    #[command(subcommand)]
    Vault(VaultCommand),
    /// End-to-end encrypted sync with a sync server. The sync passphrase
    /// comes from --sync-passphrase-file or PRODUCTIVITYPRO_SYNC_PASSPHRASE.
    #[command(subcommand)]
    Sync(SyncCommand),
}

#[derive(Subcommand, Debug)]
pub enum SyncCommand {
    /// Create a sync account and start syncing this vault with it. Prints
    /// a new sync recovery key (once) unless one is given.
    Signup {
        /// The sync server, e.g. https://sync.example.com
        #[arg(long)]
        server: String,
        #[arg(long)]
        email: String,
        /// File whose first line is the sync passphrase.
        #[arg(long)]
        sync_passphrase_file: Option<PathBuf>,
        /// File whose first line is the recovery key that may reopen the
        /// account (e.g. this vault's recovery key) instead of a new one.
        #[arg(long, conflicts_with = "no_recovery_key")]
        sync_recovery_key_file: Option<PathBuf>,
        /// No recovery key: a forgotten passphrase loses the account.
        #[arg(long)]
        no_recovery_key: bool,
    },
    /// Change the sync passphrase (the current one from
    /// --sync-passphrase-file or PRODUCTIVITYPRO_SYNC_PASSPHRASE, the new
    /// one from --new-sync-passphrase-file or
    /// PRODUCTIVITYPRO_NEW_SYNC_PASSPHRASE). Nothing is re-encrypted.
    Passphrase {
        #[arg(long)]
        sync_passphrase_file: Option<PathBuf>,
        #[arg(long)]
        new_sync_passphrase_file: Option<PathBuf>,
        /// Also sign out every other device of the account.
        #[arg(long)]
        sign_out_other_devices: bool,
    },
    /// Forgot the sync passphrase: open the account with its recovery key,
    /// set a new passphrase (--new-sync-passphrase-file or
    /// PRODUCTIVITYPRO_NEW_SYNC_PASSPHRASE) and start syncing this vault.
    Recover {
        #[arg(long)]
        server: String,
        #[arg(long)]
        email: String,
        /// File whose first line is the sync recovery key (or the vault's
        /// recovery key, if that is the one given at sign-up).
        #[arg(long)]
        sync_recovery_key_file: PathBuf,
        #[arg(long)]
        new_sync_passphrase_file: Option<PathBuf>,
        #[arg(long)]
        sign_out_other_devices: bool,
    },
    /// Set a new sync recovery key (printed once), or use the one in
    /// --sync-recovery-key-file; the previous one stops working.
    RecoveryKey {
        #[arg(long)]
        sync_passphrase_file: Option<PathBuf>,
        #[arg(long)]
        sync_recovery_key_file: Option<PathBuf>,
    },
    /// Sign in to an existing sync account and start syncing this vault.
    Login {
        #[arg(long)]
        server: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        sync_passphrase_file: Option<PathBuf>,
    },
    /// Account, device, cursor and what is waiting to be sent.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Send what is pending, then fetch and merge what other devices sent.
    Now {
        #[arg(long)]
        json: bool,
    },
    /// The devices signed in to the account.
    Devices {
        #[arg(long)]
        json: bool,
        /// Sign this other device out (its id from the list).
        #[arg(long)]
        sign_out: Option<String>,
    },
    /// Sign this device out and stop syncing (tasks stay in the vault).
    Logout {
        /// Sign out even though some changes were not sent (they are lost
        /// to the other devices).
        #[arg(long)]
        discard_unsent: bool,
        /// Also forget which account this vault synced with (another
        /// account may then be used).
        #[arg(long)]
        forget_account: bool,
    },
    /// Stay connected and merge changes from other devices as they come.
    Watch,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// View: open tasks due today or overdue.
    #[arg(long, group = "view")]
    pub today: bool,
    /// View: due in the next DAYS days (default 7).
    #[arg(long, group = "view", num_args = 0..=1, default_missing_value = "7")]
    pub upcoming: Option<u32>,
    /// View: open tasks without a list.
    #[arg(long, group = "view")]
    pub inbox: bool,
    /// View: completed tasks, newest first.
    #[arg(long, group = "view")]
    pub done: bool,
    /// View: the trash, most recently deleted first.
    #[arg(long, group = "view")]
    pub trash: bool,
    /// Only this list (name or id).
    #[arg(long)]
    pub list: Option<String>,
    /// Only tasks with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Only this priority (0 none, 1 most urgent … 4).
    #[arg(long)]
    pub priority: Option<u8>,
    /// Only tasks due on or before this day ("friday", "2026-12-01").
    #[arg(long)]
    pub due_before: Option<String>,
    /// Only tasks due on or after this day.
    #[arg(long)]
    pub due_after: Option<String>,
    /// Only tasks whose title, notes, tags or list contain every word.
    #[arg(long)]
    pub text: Option<String>,
    /// manual, due, priority or created (default: the view's own order).
    #[arg(long)]
    pub sort: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum TrashCommand {
    /// What is in the trash (the default).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Put tasks back where they were, with the subtasks deleted with them.
    Restore {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Delete for good: these tasks, or everything in the trash.
    Empty { ids: Vec<String> },
    /// Show or set after how many days the trash empties itself (0: never).
    Retention { days: Option<u32> },
}

#[derive(Args, Debug)]
pub struct EditArgs {
    pub id: String,
    #[arg(long)]
    pub title: Option<String>,
    #[arg(long)]
    pub notes: Option<String>,
    #[arg(long, conflicts_with = "no_list")]
    pub list: Option<String>,
    #[arg(long)]
    pub no_list: bool,
    #[arg(long)]
    pub add_tag: Vec<String>,
    #[arg(long)]
    pub remove_tag: Vec<String>,
    /// 0 (none) to 4; 1 is the most urgent.
    #[arg(long)]
    pub priority: Option<u8>,
    /// A date as you would type it: "tomorrow 9am", "2026-12-01", "next fri".
    #[arg(long, conflicts_with = "no_due")]
    pub due: Option<String>,
    #[arg(long)]
    pub no_due: bool,
    /// Repeat: "monday", "2 weeks", "weekday"...
    #[arg(long, conflicts_with_all = ["rrule", "no_repeat"])]
    pub every: Option<String>,
    /// Repeat by an RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=MO,TH.
    #[arg(long, conflicts_with = "no_repeat")]
    pub rrule: Option<String>,
    #[arg(long)]
    pub no_repeat: bool,
    #[arg(long, conflicts_with = "no_parent")]
    pub parent: Option<String>,
    #[arg(long)]
    pub no_parent: bool,
    /// Move just before this task in manual order.
    #[arg(long, conflicts_with = "after")]
    pub before: Option<String>,
    /// Move just after this task in manual order.
    #[arg(long)]
    pub after: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ListsCommand {
    /// Show lists (the default).
    Show {
        #[arg(long)]
        json: bool,
    },
    Add {
        name: String,
        #[arg(long)]
        colour: Option<String>,
    },
    Rename {
        list: String,
        name: String,
    },
    Colour {
        list: String,
        colour: Option<String>,
    },
    Archive {
        list: String,
        /// Unarchive instead.
        #[arg(long)]
        undo: bool,
    },
    Rm {
        list: String,
        /// Also move the list's tasks to the trash.
        #[arg(long)]
        with_tasks: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum VaultCommand {
    /// Ids, slots, counts, schema and backups (never keys).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Add a passphrase slot (new passphrase from --new-passphrase-file or PRODUCTIVITYPRO_NEW_PASSPHRASE).
    AddPassphrase,
    /// Change the passphrase (same input as add-passphrase).
    ChangePassphrase,
    /// Add (or renew) the OS keyring slot.
    AddKeyring,
    /// Remove a key slot by id (see `vault status`); the last one cannot go.
    RemoveSlot { id: i64 },
    /// Make a new recovery key (shown once); the old one stops working.
    RecoveryKey,
    /// Replace the data key and re-encrypt every record (one transaction).
    Rotate,
    /// Write an encrypted backup now (rotating folder, or --out FILE).
    Backup {
        #[arg(long)]
        out: Option<PathBuf>,
        /// How many automatic backups to keep.
        #[arg(long)]
        keep: Option<u32>,
        /// Hours between automatic backups (0 turns them off).
        #[arg(long)]
        interval_hours: Option<u32>,
    },
    /// Restore an encrypted backup with its passphrase or recovery key.
    Restore {
        file: PathBuf,
        /// Replace an existing vault (kept aside, never deleted).
        #[arg(long)]
        replace: bool,
    },
    /// The copies taken before each schema upgrade: the way back when a
    /// newer app upgraded the vault (`vault_too_new`).
    #[command(subcommand)]
    PreMigration(PreMigrationCommand),
}

#[derive(Subcommand, Debug)]
pub enum PreMigrationCommand {
    /// The copies this version can open, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Put a copy in place of a vault this version cannot open (the newer
    /// file is kept aside as vault.db.replaced-TIME, never deleted).
    Restore {
        /// A name from `pp vault pre-migration list`.
        name: String,
    },
}
