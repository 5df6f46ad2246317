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
    /// List open tasks (all, or one view).
    #[command(alias = "ls")]
    List {
        #[arg(long, group = "view")]
        today: bool,
        /// Due in the next DAYS days (default 7).
        #[arg(long, group = "view", num_args = 0..=1, default_missing_value = "7")]
        upcoming: Option<u32>,
        #[arg(long, group = "view")]
        list: Option<String>,
        #[arg(long, group = "view")]
        tag: Option<String>,
        /// Completed tasks, newest first.
        #[arg(long, group = "view")]
        done: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one task in full.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Complete tasks (a recurring task gets its next occurrence).
    Done {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Reopen a completed task.
    Undone { id: String },
    /// Change a task.
    Edit(EditArgs),
    /// Delete a task and its subtasks.
    Rm { id: String },
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
        /// Also delete the list's tasks.
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
}
