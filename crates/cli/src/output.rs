//! What `pp` prints: short lines for people, `--json` for scripts.

use anyhow::Result;
use productivitypro_core::vault::Completion;
use productivitypro_core::{RecoveryKey, Task, Vault};
use serde_json::json;

fn list_name(v: &Vault, t: &Task) -> Option<String> {
    t.list.and_then(|l| v.list(l)).map(|l| l.name.clone())
}

fn task_json(v: &Vault, t: &Task) -> serde_json::Value {
    let mut j = serde_json::to_value(t).unwrap_or_default();
    if let Some(obj) = j.as_object_mut() {
        obj.insert("list_name".into(), json!(list_name(v, t)));
    }
    j
}

pub fn task_line(v: &Vault, t: &Task) -> String {
    let mut s = format!(
        "{}  [{}] {}",
        t.id.short(),
        if t.done { "x" } else { " " },
        t.title
    );
    if t.priority.get() > 0 {
        s.push_str(&format!("  !{}", t.priority.get()));
    }
    if let Some(name) = list_name(v, t) {
        s.push_str(&format!("  #{name}"));
    }
    for tag in &t.tags {
        s.push_str(&format!(" @{tag}"));
    }
    if let Some(d) = &t.due {
        s.push_str(&format!("  due {d}"));
    }
    if let Some(r) = &t.recurrence {
        s.push_str(&format!("  ({})", r.label()));
    }
    if let Some(p) = t.parent {
        s.push_str(&format!("  ↳ {}", p.short()));
    }
    if let Some(at) = t.trashed_at {
        s.push_str(&format!(
            "  (in the trash since {})",
            at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    s
}

pub fn task_line_or_json(v: &Vault, t: &Task, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(&task_json(v, t))?);
    } else {
        println!("{}", task_line(v, t));
    }
    Ok(())
}

pub fn tasks(v: &Vault, tasks: &[&Task], json: bool) -> Result<()> {
    if json {
        let arr: Vec<serde_json::Value> = tasks.iter().map(|t| task_json(v, t)).collect();
        println!("{}", serde_json::to_string_pretty(&arr)?);
    } else if tasks.is_empty() {
        println!("(no tasks)");
    } else {
        for t in tasks {
            println!("{}", task_line(v, t));
        }
    }
    Ok(())
}

pub fn task_detail(v: &Vault, t: &Task, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&task_json(v, t))?);
        return Ok(());
    }
    println!("{}", task_line(v, t));
    println!("id        {}", t.id);
    if !t.notes.is_empty() {
        println!("notes     {}", t.notes.replace('\n', "\n          "));
    }
    println!("created   {}", t.created_at.to_rfc3339());
    println!("updated   {}", t.updated_at.to_rfc3339());
    if let Some(d) = t.done_at {
        println!("done      {}", d.to_rfc3339());
    }
    Ok(())
}

pub fn completion(v: &Vault, c: &Completion, json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string(&json!({
                "done": task_json(v, &c.done),
                "next": c.next.as_ref().map(|n| task_json(v, n)),
            }))?
        );
        return Ok(());
    }
    println!("{}", task_line(v, &c.done));
    if let Some(n) = &c.next {
        println!("next: {}", task_line(v, n));
    }
    Ok(())
}

pub fn lists(v: &Vault, json: bool) -> Result<()> {
    let lists = v.lists();
    if json {
        println!("{}", serde_json::to_string_pretty(&lists)?);
        return Ok(());
    }
    if lists.is_empty() {
        println!("(no lists)");
    }
    let counts = v.list_open_counts();
    for l in lists {
        let open = counts.get(&l.id).copied().unwrap_or(0);
        println!(
            "{}  {}{}{}  ({open} open)",
            l.id.short(),
            l.name,
            l.colour
                .as_deref()
                .map(|c| format!("  {c}"))
                .unwrap_or_default(),
            if l.archived { "  [archived]" } else { "" },
        );
    }
    Ok(())
}

pub fn status(v: &Vault, json: bool) -> Result<()> {
    let slots = v.slots()?;
    let backups = v.backups()?;
    let policy = v.backup_policy()?;
    let open = v.tasks().filter(|t| t.is_open()).count();
    let trash = v.trash().len();
    let retention = v.trash_retention_days()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "dir": v.dir(),
                "vault_id": v.id().to_string(),
                "key_id": v.key_id().to_string(),
                "ledger_required": v.ledger_required(),
                "schema_version": v.schema_version()?,
                "tasks": v.task_count(),
                "open_tasks": open,
                "trash": trash,
                "trash_retention_days": retention,
                "lists": v.lists().len(),
                "slots": slots,
                "backups": backups,
                "backup_keep": policy.keep,
                "backup_interval_hours": policy.interval_hours,
            }))?
        );
        return Ok(());
    }
    println!("vault     {} ({})", v.id(), v.dir().display());
    println!("data key  {}  (schema {})", v.key_id(), v.schema_version()?);
    if !v.ledger_required() {
        println!(
            "integrity ledger not tied to the key yet (a vault from an older version); \
             `pp vault rotate` makes its removal detectable"
        );
    }
    println!(
        "tasks     {} ({} open) in {} lists",
        v.task_count(),
        open,
        v.lists().len()
    );
    println!(
        "trash     {trash} task(s); {}",
        match retention {
            0 => "emptied only by hand".to_string(),
            d => format!("emptied after {d} days"),
        }
    );
    println!("slots");
    for s in slots {
        println!("  {:>3}  {:<10}  added {}", s.id, s.kind, s.created_at);
    }
    println!(
        "backups   {} kept of {} (every {} h)",
        backups.len(),
        policy.keep,
        policy.interval_hours
    );
    if let Some(b) = backups.first() {
        println!(
            "  newest  {}  {}",
            b.created_at.to_rfc3339(),
            b.path.display()
        );
    }
    Ok(())
}

pub fn recovery_key(rk: &RecoveryKey) {
    println!();
    println!("  RECOVERY KEY (shown once — write it down and keep it offline):");
    println!();
    let text = rk.display_text();
    let groups: Vec<&str> = text.split('-').collect();
    for line in groups.chunks(7) {
        println!("    {}", line.join("-"));
    }
    println!();
}
