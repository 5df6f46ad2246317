//! `pp`: the headless command line over a ProductivityPro vault.

mod args;
mod output;
mod sync;
mod unlock;

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use productivitypro_core::interchange::{self, Format, ImportContext};
use productivitypro_core::quickadd;
use productivitypro_core::vault::{
    BackupPolicy, CreateOptions, KeyringChoice, ListPatch, RestoreOptions, TaskDraft, TaskPatch,
};
use productivitypro_core::{Filter, Priority, Query, Recurrence, Vault, VaultError, View};

use args::{Cli, Command, ListArgs, ListsCommand, PreMigrationCommand, TrashCommand, VaultCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = error_code(&e);
            eprintln!("pp: error: {e:#}");
            if let Some(code) = code {
                eprintln!("pp: code: {code}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The stable code scripts branch on, for errors that have one.
fn error_code(e: &anyhow::Error) -> Option<String> {
    error_code_static(e)
        .map(str::to_string)
        .or_else(|| sync::error_code(e))
}

fn error_code_static(e: &anyhow::Error) -> Option<&'static str> {
    if let Some(v) = e.downcast_ref::<VaultError>() {
        return Some(v.code());
    }
    if e.downcast_ref::<interchange::InterchangeError>().is_some() {
        return Some("import_malformed");
    }
    if e.downcast_ref::<quickadd::QuickAddError>().is_some() {
        return Some("invalid_quick_add");
    }
    if e.downcast_ref::<productivitypro_core::recurrence::RecurrenceError>()
        .is_some()
    {
        return Some("invalid_recurrence");
    }
    if e.downcast_ref::<productivitypro_core::domain::InvalidPriority>()
        .is_some()
    {
        return Some("invalid_input");
    }
    None
}

fn run(cli: Cli) -> Result<()> {
    let ctx = unlock::Context::from_cli(&cli)?;
    match cli.command {
        Command::Init {
            no_keyring,
            require_keyring,
        } => init(&ctx, no_keyring, require_keyring),
        Command::Demo => demo(&ctx),
        Command::Add {
            text,
            notes,
            list,
            parent,
            json,
        } => {
            let mut v = ctx.open()?;
            let now = v.now().with_timezone(&v.local_tz());
            let parsed = quickadd::parse(&text.join(" "), now)?;
            let parent = parent.map(|p| v.resolve_task(&p)).transpose()?;
            let t = v.add_task(TaskDraft {
                title: parsed.title,
                notes: notes.unwrap_or_default(),
                list_name: list.or(parsed.list),
                tags: parsed.tags,
                priority: parsed.priority,
                due: parsed.due,
                recurrence: parsed.recurrence,
                parent,
                ..Default::default()
            })?;
            // Printed only after the commit returned: scripts may rely on
            // a printed id being durable.
            output::task_line_or_json(&v, &t, json)?;
            ctx.after_write(&mut v)
        }
        Command::List(args) => {
            let v = ctx.open()?;
            let q = query(&v, &args)?;
            output::tasks(&v, &v.query(&q).tasks, args.json)
        }
        Command::Show { id, json } => {
            let v = ctx.open()?;
            let t = v.task(v.resolve_task(&id)?).context("task vanished")?;
            output::task_detail(&v, t, json)
        }
        Command::Done { ids, json } => {
            let mut v = ctx.open()?;
            let ids = resolve_all(&v, &ids)?;
            let done = v.complete_tasks(&ids)?;
            for id in &ids {
                match done.iter().find(|c| c.done.id == *id) {
                    Some(c) => output::completion(&v, c, json)?,
                    // Already done: shown as it is.
                    None => {
                        output::task_line_or_json(&v, v.task(*id).context("task vanished")?, json)?
                    }
                }
            }
            ctx.after_write(&mut v)
        }
        Command::Undone { ids } => {
            let mut v = ctx.open()?;
            let ids = resolve_all(&v, &ids)?;
            v.reopen_tasks(&ids)?;
            for id in ids {
                output::task_line_or_json(&v, v.task(id).context("task vanished")?, false)?;
            }
            ctx.after_write(&mut v)
        }
        Command::Edit(e) => {
            let mut v = ctx.open()?;
            let id = v.resolve_task(&e.id)?;
            let now = v.now().with_timezone(&v.local_tz());
            let mut patch = TaskPatch {
                title: e.title,
                notes: e.notes,
                add_tags: e.add_tag,
                remove_tags: e.remove_tag,
                ..Default::default()
            };
            if let Some(p) = e.priority {
                patch.priority = Some(Priority::new(p)?);
            }
            if e.no_list {
                patch.list = Some(None);
            } else {
                patch.list_name = e.list;
            }
            if e.no_due {
                patch.due = Some(None);
            } else if let Some(text) = e.due {
                patch.due = Some(Some(quickadd::parse_due(&text, now)?));
            }
            if e.no_repeat {
                patch.recurrence = Some(None);
            } else if let Some(rule) = e.rrule {
                patch.recurrence = Some(Some(Recurrence::parse(&rule)?));
            } else if let Some(phrase) = e.every {
                let phrase = format!("every {phrase}");
                let r = Recurrence::from_phrase(&phrase).with_context(|| {
                    format!("`{phrase}` is not a repeat rule I understand; try --rrule")
                })?;
                patch.recurrence = Some(Some(r));
            }
            if e.no_parent {
                patch.parent = Some(None);
            } else if let Some(p) = e.parent {
                patch.parent = Some(Some(v.resolve_task(&p)?));
            }
            patch.move_before = e.before.map(|b| v.resolve_task(&b)).transpose()?;
            patch.move_after = e.after.map(|a| v.resolve_task(&a)).transpose()?;
            let t = v.update_task(id, patch)?;
            output::task_line_or_json(&v, &t, e.json)?;
            ctx.after_write(&mut v)
        }
        Command::Rm { ids } => {
            let mut v = ctx.open()?;
            let ids = resolve_all(&v, &ids)?;
            let gone = v.trash_tasks(&ids)?;
            println!(
                "moved {} task(s) to the trash (`pp undo` or `pp trash restore ID` brings them back)",
                gone.len()
            );
            ctx.after_write(&mut v)
        }
        Command::Trash { cmd } => trash(&ctx, cmd),
        Command::Undo => {
            let mut v = ctx.open()?;
            println!("undid: {}", v.undo()?);
            ctx.after_write(&mut v)
        }
        Command::Redo => {
            let mut v = ctx.open()?;
            println!("redid: {}", v.redo()?);
            ctx.after_write(&mut v)
        }
        Command::Move { ids, list, inbox } => {
            let mut v = ctx.open()?;
            let ids = resolve_all(&v, &ids)?;
            let target = match (list, inbox) {
                (Some(name), false) => Some(list_id(&v, name)?),
                _ => None,
            };
            let moved = v.move_tasks(&ids, target)?;
            println!("moved {} task(s)", moved.len());
            ctx.after_write(&mut v)
        }
        Command::Tag { ids, add, remove } => {
            if add.is_empty() && remove.is_empty() {
                bail!("give tags to --add or --remove");
            }
            let mut v = ctx.open()?;
            let ids = resolve_all(&v, &ids)?;
            let changed = v.tag_tasks(&ids, &add, &remove)?;
            println!("retagged {} task(s)", changed.len());
            ctx.after_write(&mut v)
        }
        Command::Priority { priority, ids } => {
            let priority = Priority::new(priority)?;
            let mut v = ctx.open()?;
            let ids = resolve_all(&v, &ids)?;
            let changed = v.set_priority(&ids, priority)?;
            println!("changed the priority of {} task(s)", changed.len());
            ctx.after_write(&mut v)
        }
        Command::Search { text, json } => {
            let v = ctx.open()?;
            output::tasks(&v, &v.search(&text.join(" ")), json)
        }
        Command::Lists { cmd } => lists(&ctx, cmd),
        Command::Export { format, out } => {
            let format: Format = format.parse()?;
            if !format.can_export() {
                bail!("{format} files can be imported but not exported");
            }
            let v = ctx.open()?;
            let bundle = v.export_bundle();
            match out {
                Some(path) => {
                    let mut buf = Vec::new();
                    interchange::export(format, &bundle, &mut buf)?;
                    write_atomically(&path, &buf)?;
                    eprintln!(
                        "exported {} tasks to {}",
                        bundle.tasks.len(),
                        path.display()
                    );
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut lock = stdout.lock();
                    interchange::export(format, &bundle, &mut lock)?;
                    lock.flush()?;
                }
            }
            Ok(())
        }
        Command::Import { format, file, list } => {
            let format: Format = format.parse()?;
            if !format.can_import() {
                bail!("{format} files cannot be imported");
            }
            let bytes = if file.as_os_str() == "-" {
                let mut b = Vec::new();
                std::io::stdin().read_to_end(&mut b)?;
                b
            } else {
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?
            };
            let mut v = ctx.open()?;
            let mut rng = rand::rngs::OsRng;
            let mut ictx = ImportContext {
                now: v.now(),
                rng: &mut rng,
                local_tz: v.local_tz(),
            };
            let bundle = interchange::import(format, &bytes, &mut ictx)?;
            let merge = format != Format::Json;
            let report = match list {
                Some(name) => v.import_into_list(bundle, merge, &name)?,
                None => v.import(bundle, merge)?,
            };
            println!(
                "imported {} tasks ({} new lists, {} existing lists reused)",
                report.tasks, report.lists_created, report.lists_reused
            );
            ctx.after_write(&mut v)
        }
        Command::Vault(cmd) => vault(&ctx, cmd),
        Command::Sync(cmd) => sync::run(&ctx, cmd),
    }
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(format!(".pp-export-{}", std::process::id()));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn init(ctx: &unlock::Context, no_keyring: bool, require_keyring: bool) -> Result<()> {
    let keyring = if no_keyring {
        KeyringChoice::Off
    } else if require_keyring {
        KeyringChoice::Required
    } else {
        KeyringChoice::IfAvailable
    };
    let passphrase = ctx.passphrase()?;
    if keyring == KeyringChoice::Off && passphrase.is_none() {
        eprintln!(
            "note: without the keyring or a passphrase, only the recovery key opens this vault"
        );
    }
    let created = Vault::create(
        &ctx.dir,
        CreateOptions {
            keyring,
            passphrase,
        },
        ctx.env(),
    )?;
    if let Some(e) = &created.keyring_error {
        eprintln!("warning: {e}; the vault has no keyring slot");
        if ctx.passphrase()?.is_none() {
            eprintln!("         only the recovery key below opens it: keep it safe, or add a passphrase with `pp vault add-passphrase`");
        }
    }
    println!("created vault in {}", ctx.dir.display());
    output::recovery_key(&created.recovery_key);
    Ok(())
}

fn lists(ctx: &unlock::Context, cmd: Option<ListsCommand>) -> Result<()> {
    let mut v = ctx.open()?;
    match cmd {
        None | Some(ListsCommand::Show { .. }) => {
            let json = matches!(cmd, Some(ListsCommand::Show { json: true }));
            return output::lists(&v, json);
        }
        Some(ListsCommand::Add { name, colour }) => {
            let l = v.add_list(&name, colour.as_deref())?;
            println!("{}  {}", l.id.short(), l.name);
        }
        Some(ListsCommand::Rename { list, name }) => {
            let id = list_id(&v, list)?;
            let patch = ListPatch {
                name: Some(name),
                ..Default::default()
            };
            v.update_list(id, patch)?;
        }
        Some(ListsCommand::Colour { list, colour }) => {
            let id = list_id(&v, list)?;
            let patch = ListPatch {
                colour: Some(colour),
                ..Default::default()
            };
            v.update_list(id, patch)?;
        }
        Some(ListsCommand::Archive { list, undo }) => {
            let id = list_id(&v, list)?;
            let patch = ListPatch {
                archived: Some(!undo),
                ..Default::default()
            };
            v.update_list(id, patch)?;
        }
        Some(ListsCommand::Rm { list, with_tasks }) => {
            let id = list_id(&v, list)?;
            let n = v.delete_list(id, with_tasks)?;
            println!("deleted the list; {n} task(s) moved to the trash");
        }
    }
    ctx.after_write(&mut v)
}

fn trash(ctx: &unlock::Context, cmd: Option<TrashCommand>) -> Result<()> {
    let mut v = ctx.open()?;
    match cmd.unwrap_or(TrashCommand::List { json: false }) {
        TrashCommand::List { json } => return output::tasks(&v, &v.trash(), json),
        TrashCommand::Restore { ids } => {
            let ids = resolve_all(&v, &ids)?;
            let back = v.restore_tasks(&ids)?;
            println!("restored {} task(s)", back.len());
        }
        TrashCommand::Empty { ids } => {
            let gone = if ids.is_empty() {
                v.empty_trash(None)?
            } else {
                let ids = resolve_all(&v, &ids)?;
                v.empty_trash(Some(&ids))?
            };
            println!("deleted {} task(s) for good", gone.len());
        }
        TrashCommand::Retention { days: None } => {
            match v.trash_retention_days()? {
                0 => println!("the trash is emptied only by hand"),
                d => println!("tasks are deleted for good {d} days after they went to the trash"),
            }
            return Ok(());
        }
        TrashCommand::Retention { days: Some(d) } => {
            v.set_trash_retention_days(d)?;
            println!("trash retention set to {d} days");
        }
    }
    ctx.after_write(&mut v)
}

/// Task ids or unique prefixes, resolved all before anything is done.
fn resolve_all(v: &Vault, ids: &[String]) -> Result<Vec<productivitypro_core::TaskId>, VaultError> {
    ids.iter().map(|i| v.resolve_task(i)).collect()
}

/// The view, filter and sort `pp list`'s flags ask for.
fn query(v: &Vault, a: &ListArgs) -> Result<Query> {
    let view = if a.today {
        View::Today
    } else if let Some(days) = a.upcoming {
        View::Upcoming { days }
    } else if a.inbox {
        View::Inbox
    } else if a.done {
        View::Done
    } else if a.trash {
        View::Trash
    } else {
        View::All
    };
    let now = v.now().with_timezone(&v.local_tz());
    let day = |flag: &str, text: &Option<String>| -> Result<Option<chrono::NaiveDate>> {
        text.as_deref()
            .map(|t| {
                quickadd::parse_due(t, now)
                    .map(|d| d.date)
                    .with_context(|| format!("--{flag}"))
            })
            .transpose()
    };
    let filter = Filter {
        list: a.list.clone().map(|l| list_id(v, l)).transpose()?,
        tag: a.tag.clone(),
        priority: a.priority.map(Priority::new).transpose()?,
        due_before: day("due-before", &a.due_before)?,
        due_after: day("due-after", &a.due_after)?,
        text: a.text.clone(),
    };
    let sort = a.sort.as_deref().map(str::parse).transpose()?;
    Ok(Query { view, filter, sort })
}

fn list_id(v: &Vault, name: String) -> Result<productivitypro_core::ListId, VaultError> {
    match v.list_by_name(&name) {
        Some(l) => Ok(l.id),
        None => Err(VaultError::ListNotFound(name)),
    }
}

fn vault(ctx: &unlock::Context, cmd: VaultCommand) -> Result<()> {
    match cmd {
        VaultCommand::Status { json } => {
            let v = ctx.open()?;
            output::status(&v, json)
        }
        VaultCommand::AddPassphrase | VaultCommand::ChangePassphrase => {
            let new = ctx
                .new_passphrase()?
                .context("give the new passphrase with --new-passphrase-file or PRODUCTIVITYPRO_NEW_PASSPHRASE")?;
            let mut v = ctx.open()?;
            v.set_passphrase(&new)?;
            println!("passphrase slot set");
            Ok(())
        }
        VaultCommand::AddKeyring => {
            let mut v = ctx.open()?;
            v.add_keyring_slot()?;
            println!("keyring slot added");
            Ok(())
        }
        VaultCommand::RemoveSlot { id } => {
            let mut v = ctx.open()?;
            let kind = v.remove_slot(id)?;
            println!("removed {kind} slot {id}");
            Ok(())
        }
        VaultCommand::RecoveryKey => {
            let mut v = ctx.open()?;
            let rk = v.new_recovery_key()?;
            println!("the previous recovery key no longer opens this vault");
            output::recovery_key(&rk);
            Ok(())
        }
        VaultCommand::Rotate => {
            let mut v = ctx.open()?;
            let p = ctx.passphrase()?;
            let r = v.rotate_key(p.as_deref().map(|s| s.as_str()))?;
            println!(
                "new data key {} ; {} records re-encrypted",
                r.key_id, r.records
            );
            if let Some(rk) = r.recovery_key {
                println!("the previous recovery key no longer opens this vault");
                output::recovery_key(&rk);
            }
            Ok(())
        }
        VaultCommand::Backup {
            out,
            keep,
            interval_hours,
        } => {
            let mut v = ctx.open()?;
            if keep.is_some() || interval_hours.is_some() {
                let p = v.backup_policy()?;
                v.set_backup_policy(BackupPolicy {
                    keep: keep.unwrap_or(p.keep),
                    interval_hours: interval_hours.unwrap_or(p.interval_hours),
                })?;
            }
            let info = match out {
                Some(path) => v.write_backup(&path)?,
                None => v.backup_now()?,
            };
            println!(
                "backup written: {} ({} bytes)",
                info.path.display(),
                info.bytes
            );
            Ok(())
        }
        VaultCommand::Restore { file, replace } => {
            let unlock = ctx.restore_unlock()?;
            let v = Vault::restore(
                &file,
                &ctx.dir,
                &unlock,
                RestoreOptions {
                    keyring: !ctx.no_keyring,
                    replace,
                },
                ctx.env(),
            )?;
            println!(
                "restored {} tasks and {} lists into {}",
                v.task_count(),
                v.lists().len(),
                ctx.dir.display()
            );
            Ok(())
        }
        VaultCommand::PreMigration(PreMigrationCommand::List { json }) => {
            let copies = Vault::pre_migration_copies(&ctx.dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&copies)?);
            } else if copies.is_empty() {
                println!("no copies from before a schema upgrade that this version can open");
            } else {
                for c in &copies {
                    println!(
                        "{}  schema {}  {}  {} bytes",
                        c.name,
                        c.schema,
                        c.created_at.format("%Y-%m-%d %H:%M UTC"),
                        c.bytes
                    );
                }
            }
            Ok(())
        }
        VaultCommand::PreMigration(PreMigrationCommand::Restore { name }) => {
            // Only for a vault this version cannot open: going back from
            // one it reads would only lose what changed since the copy.
            if Vault::slots_in(&ctx.dir).is_ok() {
                anyhow::bail!(
                    "this version opens the vault in {} as it is; nothing was changed",
                    ctx.dir.display()
                );
            }
            let unlock = ctx.unlock()?;
            // The secret is checked against the copy first: only someone
            // who can open the vault replaces it.
            Vault::verify_pre_migration_unlock(&ctx.dir, &name, &unlock)?;
            let copy = Vault::restore_pre_migration(&ctx.dir, &name, &ctx.env())?;
            let v = ctx.open()?;
            println!(
                "restored the copy from {} (schema {}): {} tasks; the newer vault file is kept aside in {} as vault.db.replaced-<time> (the newer app still opens it)",
                copy.created_at.format("%Y-%m-%d %H:%M UTC"),
                copy.schema,
                v.task_count(),
                ctx.dir.display(),
            );
            Ok(())
        }
    }
}

/// `make run` until the desktop app exists: a throwaway vault that shows
/// quick-add, views, search and encryption at work.
fn demo(ctx: &unlock::Context) -> Result<()> {
    let dir = ctx.dir.join("demo");
    if Vault::exists(&dir) {
        std::fs::remove_dir_all(&dir)?;
    }
    let created = Vault::create(
        &dir,
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: None,
        },
        ctx.env(),
    )?;
    let mut v = created.vault;
    let now = v.now().with_timezone(&v.local_tz());
    for line in [
        "Pay rent tomorrow 9am #home !1",
        "Water the plants every monday #home @chores",
        "Review quarterly report friday 5pm #work !2 @focus",
        "Book dentist appointment next week @health",
        "Call mum today 6pm",
    ] {
        let q = quickadd::parse(line, now)?;
        let t = v.add_task(TaskDraft {
            title: q.title,
            list_name: q.list,
            tags: q.tags,
            priority: q.priority,
            due: q.due,
            recurrence: q.recurrence,
            ..Default::default()
        })?;
        println!("pp add {line:?}");
        output::task_line_or_json(&v, &t, false)?;
    }
    println!("\n== today ==");
    output::tasks(&v, &v.view(&View::Today), false)?;
    println!("\n== upcoming (7 days) ==");
    output::tasks(&v, &v.view(&View::Upcoming { days: 7 }), false)?;
    println!("\n== search \"home\" ==");
    output::tasks(&v, &v.search("home"), false)?;
    drop(v);
    let db = std::fs::read(dir.join("vault.db"))?;
    let leaked = ["rent", "plants", "dentist"]
        .iter()
        .any(|w| db.windows(w.len()).any(|x| x == w.as_bytes()));
    println!(
        "\nvault file {} ({} bytes): titles in plaintext? {}",
        dir.join("vault.db").display(),
        db.len(),
        if leaked { "YES (bug!)" } else { "no" }
    );
    println!("recovery key for this demo vault (shown once):");
    output::recovery_key(&created.recovery_key);
    println!(
        "try: pp --data-dir {} --recovery-key-file <file with the key> list",
        dir.display()
    );
    Ok(())
}
