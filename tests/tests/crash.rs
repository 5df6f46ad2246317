//! Kill -9 at random points: every write the writer acknowledged is in
//! the vault afterwards, the vault always opens, and no plaintext is left
//! in any file, even mid-transaction.
//!
//! SIGKILL keeps the page cache, so surviving it proves less than
//! durability: a writer with `synchronous=OFF` would pass too. So on Linux
//! every round also runs under an LD_PRELOAD shim (`sync_log/`) that logs
//! WAL writes, WAL syncs and acknowledgements in order, and each
//! acknowledgement must follow a sync of everything written before it.

mod common;
#[cfg(target_os = "linux")]
mod sync_log;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::TimeZone;
use productivitypro_core::{CreateOptions, Env, FixedClock, KeyringChoice, TaskId, Unlock, Vault};
use rand::{Rng, SeedableRng};

const MARKER: &str = "QZXCRASHMARK";
const ROUNDS: usize = 60;

#[test]
fn kill_9_at_random_points_never_loses_an_acknowledged_write() {
    let tmp = tempfile::tempdir().unwrap();
    let env = Env {
        clock: Box::new(FixedClock::new(
            chrono::Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        )),
        rng: Box::new(rand::rngs::OsRng),
        local_tz: chrono_tz::UTC,
        keyring_service: "ProductivityPro-test".into(),
    };
    let created = Vault::create(
        tmp.path(),
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: None,
        },
        env,
    )
    .unwrap();
    let key = created.recovery_key.display_text().to_string();
    drop(created.vault);

    let seed: u64 = std::env::var("PP_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let mut added: HashSet<TaskId> = HashSet::new();
    let mut done: HashSet<TaskId> = HashSet::new();
    let mut killed_mid_run = 0;
    #[cfg(target_os = "linux")]
    let logs = tempfile::tempdir().unwrap();
    #[cfg(target_os = "linux")]
    let shim = sync_log::build_shim(logs.path());
    #[cfg(target_os = "linux")]
    let mut synced = sync_log::Summary::default();

    for round in 0..ROUNDS {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_crash-writer"));
        cmd.arg(tmp.path())
            .arg(MARKER)
            .arg("100000")
            .env("PRODUCTIVITYPRO_RECOVERY_KEY", &key)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        #[cfg(target_os = "linux")]
        let log_path = logs.path().join(format!("round-{round}.log"));
        #[cfg(target_os = "linux")]
        cmd.env("LD_PRELOAD", &shim).env("PP_SYNC_LOG", &log_path);
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        // Random point: one round in seven while the writer is still
        // opening the vault, the rest at a random moment of its write loop.
        if rng.gen_range(0..7) != 0 {
            if let Ok(first) = rx.recv_timeout(Duration::from_secs(30)) {
                lines.push(first);
            }
        }
        // Up to 60 ms: each commit also writes the integrity ledger, and
        // the rounds must still add up to a few hundred acknowledged writes.
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..60_000)));
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        if !status.success() && !lines.is_empty() {
            killed_mid_run += 1;
        }
        #[cfg(target_os = "linux")]
        {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let summary = sync_log::check(&log).unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert!(
                summary.acks >= lines.len(),
                "round {round}: the shim saw {} acknowledgements, the test read {}",
                summary.acks,
                lines.len()
            );
            synced.acks += summary.acks;
            synced.wal_syncs += summary.wal_syncs;
        }
        for line in &lines {
            let (what, id) = line.split_once(' ').unwrap();
            let id: TaskId = id.parse().unwrap();
            match what {
                "add" => {
                    added.insert(id);
                }
                "done" => {
                    done.insert(id);
                }
                "edit" => {}
                other => panic!("unexpected line {other}"),
            }
        }

        let leaked = common::files_containing(tmp.path(), MARKER);
        assert!(leaked.is_empty(), "round {round}: plaintext in {leaked:?}");

        let v = Vault::open(
            tmp.path(),
            &Unlock::recovery_key(key.clone()),
            Env::system(chrono_tz::UTC),
        )
        .unwrap_or_else(|e| panic!("round {round}: vault does not open after kill -9: {e}"));
        for id in &added {
            let t = v
                .task(*id)
                .unwrap_or_else(|| panic!("round {round}: acknowledged task {id} lost"));
            assert!(t.title.starts_with(MARKER));
        }
        for id in &done {
            assert!(
                v.task(*id).unwrap().done,
                "round {round}: acknowledged completion of {id} lost"
            );
        }
    }
    assert!(
        added.len() >= 200,
        "only {} writes acknowledged: the test did not exercise much",
        added.len()
    );
    assert!(
        killed_mid_run >= ROUNDS / 2,
        "only {killed_mid_run} rounds were killed mid-write"
    );
    eprintln!(
        "crash test: {ROUNDS} kills ({killed_mid_run} mid-write), {} adds and {} completions acknowledged, all present",
        added.len(),
        done.len()
    );
    #[cfg(target_os = "linux")]
    {
        assert!(synced.acks >= added.len(), "{synced:?}");
        eprintln!(
            "crash test: {} acknowledgements, each after a WAL sync ({} WAL syncs logged)",
            synced.acks, synced.wal_syncs
        );
    }
}
