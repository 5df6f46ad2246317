//! The crash test's proof of durability beyond what SIGKILL can show: an
//! LD_PRELOAD shim (`shim.c`, built here with the system C compiler)
//! logs WAL writes, WAL syncs and the writer's acknowledgements in the
//! order they happen, and [`check`] insists that every acknowledgement
//! follows a sync of everything written to the WAL before it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the shim into `dir` and returns its path.
pub fn build_shim(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sync_log/shim.c");
    let out = dir.join("libppsynclog.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-ldl")
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run the C compiler `{cc}` ({e}); install one (build-essential)")
        });
    assert!(status.success(), "building the sync-log shim failed");
    out
}

/// What a log showed.
#[derive(Debug, Default)]
pub struct Summary {
    pub acks: usize,
    pub wal_syncs: usize,
}

/// Checks a shim log: each acknowledgement comes after at least one WAL
/// write since the previous one (so the shim really saw the commit), and
/// after a sync of the WAL that follows the last of those writes. A log
/// cut short by SIGKILL is fine: only what happened is checked.
pub fn check(log: &str) -> Result<Summary, String> {
    let mut s = Summary::default();
    let (mut wrote, mut unsynced) = (false, false);
    for (n, line) in log.lines().enumerate() {
        match line {
            "wal-write" => {
                wrote = true;
                unsynced = true;
            }
            "wal-sync" => {
                unsynced = false;
                s.wal_syncs += 1;
            }
            "ack" => {
                if !wrote {
                    return Err(format!(
                        "line {}: acknowledgement {} without any WAL write before it \
                         (is the shim intercepting SQLite's writes?)",
                        n + 1,
                        s.acks + 1
                    ));
                }
                if unsynced {
                    return Err(format!(
                        "line {}: acknowledgement {} printed while a WAL write was not yet \
                         synced (the commit was not durable when it was acknowledged)",
                        n + 1,
                        s.acks + 1
                    ));
                }
                s.acks += 1;
                wrote = false;
            }
            other => return Err(format!("line {}: unexpected `{other}`", n + 1)),
        }
    }
    Ok(s)
}

#[test]
fn the_checker_refuses_an_acknowledgement_before_the_sync() {
    assert!(
        check("wal-write\nwal-sync\nack\nwal-write\nwal-write\nwal-sync\nack\nwal-write\n").is_ok()
    );
    assert!(check("wal-write\nack\n")
        .unwrap_err()
        .contains("not yet synced"));
    assert!(check("wal-write\nwal-sync\nack\nack\n")
        .unwrap_err()
        .contains("without any WAL write"));
    assert!(check("wal-sync\nwal-write\nack\n").is_err());
}
