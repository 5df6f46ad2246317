//! Test helper for the sync crash scenario: adds tasks to a syncing vault
//! and syncs every few adds, printing `add ID` only after the add's
//! commit and `synced` after a whole round. The test kills it with
//! SIGKILL at random points — in the middle of sealing, pushing, an
//! acknowledgement or a merge — and checks that nothing acknowledged is
//! lost and nothing arrives twice.
//!
//! Usage: sync-crash-client DIR PREFIX MAX   (recovery key in PRODUCTIVITYPRO_RECOVERY_KEY)

use std::io::Write;

use anyhow::{Context, Result};
use productivitypro_core::vault::sync::HttpTransport;
use productivitypro_core::vault::TaskDraft;
use productivitypro_core::{Env, Unlock, Vault};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().context("DIR")?;
    let prefix = args.next().context("PREFIX")?;
    let max: usize = args.next().context("MAX")?.parse()?;
    let key = std::env::var("PRODUCTIVITYPRO_RECOVERY_KEY").context("recovery key")?;
    let mut v = Vault::open(
        std::path::Path::new(&dir),
        &Unlock::recovery_key(key),
        Env::system(chrono_tz::UTC),
    )?;
    let mut transport = HttpTransport::new(&v.sync_endpoint()?)
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    let out = std::io::stdout();
    let mut out = out.lock();
    for i in 0..max {
        let t = v.add_task(TaskDraft {
            title: format!("{prefix} {i}"),
            ..Default::default()
        })?;
        writeln!(out, "add {}", t.id)?;
        out.flush()?;
        if i % 3 == 2 {
            v.sync_now(&mut transport)?;
            writeln!(out, "synced")?;
            out.flush()?;
        }
    }
    Ok(())
}
