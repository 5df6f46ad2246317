//! Test helper for the crash scenario: writes to a vault in a loop and
//! prints one line per durable write (`add ID`, `done ID`) only after the
//! write's transaction has committed. The test kills it with SIGKILL at
//! random points and checks every printed write survived.
//!
//! Usage: crash-writer DIR MARKER MAX   (recovery key in PRODUCTIVITYPRO_RECOVERY_KEY)

use std::io::Write;

use anyhow::{Context, Result};
use productivitypro_core::vault::{TaskDraft, TaskPatch};
use productivitypro_core::{Env, Unlock, Vault};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().context("DIR")?;
    let marker = args.next().context("MARKER")?;
    let max: usize = args.next().context("MAX")?.parse()?;
    let key = std::env::var("PRODUCTIVITYPRO_RECOVERY_KEY").context("recovery key")?;
    let mut v = Vault::open(
        std::path::Path::new(&dir),
        &Unlock::recovery_key(key),
        Env::system(chrono_tz::UTC),
    )?;
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut previous = None;
    for i in 0..max {
        let t = v.add_task(TaskDraft {
            title: format!("{marker} title {i}"),
            notes: format!("{marker} notes {i}"),
            // The first add creates the list in the same transaction.
            list_name: Some(format!("{marker} list")),
            tags: [format!("{marker}tag")].into(),
            ..Default::default()
        })?;
        writeln!(out, "add {}", t.id)?;
        out.flush()?;
        if i % 3 == 2 {
            if let Some(p) = previous {
                v.complete_task(p)?;
                writeln!(out, "done {p}")?;
                out.flush()?;
            }
        }
        if i % 5 == 4 {
            v.update_task(
                t.id,
                TaskPatch {
                    notes: Some(format!("{marker} edited notes {i}")),
                    ..Default::default()
                },
            )?;
            writeln!(out, "edit {}", t.id)?;
            out.flush()?;
        }
        previous = Some(t.id);
    }
    Ok(())
}
