//! SIGKILL a syncing client (`sync-crash-client`) at random points —
//! while it adds, seals, pushes, takes an acknowledgement or merges what
//! another device sent — against the real sync service on loopback.
//! After every kill the vault opens; at the end, once both devices have
//! synced, each holds every task the client acknowledged, every task the
//! other device added, each exactly once, and both show the same.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use productivitypro_core::vault::sync::{HttpTransport, NewLink};
use productivitypro_core::vault::TaskDraft;
use productivitypro_core::{CreateOptions, Env, KeyringChoice, Task, TaskId, Unlock, Vault};
use productivitypro_sync_protocol::client::account;
use productivitypro_sync_protocol::client::SyncClient;
use productivitypro_sync_protocol::keys::{self, KdfParams};
use productivitypro_sync_server::clock::ManualClock;
use productivitypro_sync_server::config::HashCost;
use productivitypro_sync_server::{Config, Server};
use rand::{Rng, SeedableRng};
use zeroize::Zeroizing;

const ROUNDS: usize = 12;

fn env() -> Env {
    Env {
        rng: Box::new(rand::rngs::OsRng),
        ..Env::system(chrono_tz::UTC)
    }
}

fn shown(v: &Vault) -> Vec<Task> {
    let mut t: Vec<Task> = v
        .tasks()
        .map(|t| Task {
            updated_at: chrono::DateTime::UNIX_EPOCH,
            ..t.clone()
        })
        .collect();
    t.sort_by_key(|t| t.id);
    t
}

#[test]
fn kill_9_during_sync_loses_nothing_acknowledged_and_applies_nothing_twice() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sdir = tempfile::tempdir().unwrap();
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: sdir.path().to_path_buf(),
        database_url: Some(format!("sqlite://{}/sync.db", sdir.path().display())),
        log_format: "text".into(),
        login_hash: HashCost {
            m_kib: 8192,
            t: 1,
            p: 1,
        },
        ..Config::default()
    };
    c.rate.per_ip = 1_000_000;
    c.rate.per_ip_burst = 1_000_000;
    c.rate.per_account = 1_000_000;
    c.rate.per_account_burst = 1_000_000;
    let server = rt
        .block_on(Server::start(c, Arc::new(ManualClock::new(1_795_000_000))))
        .unwrap();
    let base = format!("http://{}", server.addr);
    let client = SyncClient::new(&base);
    let kdf = KdfParams {
        salt: vec![7; 16],
        m_kib: keys::MIN_M_KIB,
        t: keys::MIN_T,
        p: 1,
    };
    let pk = keys::derive_passphrase_keys("crash test passphrase", &kdf).unwrap();
    let login = keys::login_id("crash@example.com").unwrap();
    let link = |s: account::SignedIn| NewLink {
        server: base.clone(),
        email: "crash@example.com".into(),
        account: s.session.account_id,
        device: s.session.device_id,
        key: s.key,
        token: Zeroizing::new(s.session.token),
    };
    let create = |dir: &std::path::Path| {
        Vault::create(
            dir,
            CreateOptions {
                keyring: KeyringChoice::Off,
                passphrase: None,
            },
            env(),
        )
        .unwrap()
    };

    // A: the device that gets killed.
    let da = tempfile::tempdir().unwrap();
    let created = create(da.path());
    let key_a = created.recovery_key.display_text().to_string();
    let mut a = created.vault;
    let device = a.sync_new_device_id();
    let s = rt
        .block_on(account::signup_derived(
            &client,
            login,
            kdf.clone(),
            &pk,
            None,
            device,
            None,
            &mut rand::rngs::OsRng,
        ))
        .unwrap();
    a.sync_enable(link(s)).unwrap();
    drop(a);
    // B: the other device, adding and syncing between A's lives.
    let db = tempfile::tempdir().unwrap();
    let mut b = create(db.path()).vault;
    let device = b.sync_new_device_id();
    let s = rt
        .block_on(account::login(&client, login, &pk, device, None))
        .unwrap();
    b.sync_enable(link(s)).unwrap();
    let mut tb = HttpTransport::new(&b.sync_endpoint().unwrap()).unwrap();

    let seed: u64 = std::env::var("PP_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let mut acked: HashSet<TaskId> = HashSet::new();
    let mut from_b: HashSet<TaskId> = HashSet::new();
    let mut killed_after_a_sync = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sync-crash-client"))
            .arg(da.path())
            .arg(format!("round {round}"))
            .arg("100000")
            .env("PRODUCTIVITYPRO_RECOVERY_KEY", &key_a)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
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
        if let Ok(first) = rx.recv_timeout(Duration::from_secs(30)) {
            lines.push(first);
        }
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..300_000)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        for line in &lines {
            match line.split_once(' ') {
                Some(("add", id)) => {
                    acked.insert(id.parse().unwrap());
                }
                None if line == "synced" => {}
                _ => panic!("unexpected line {line}"),
            }
        }
        if lines.iter().any(|l| l == "synced") {
            killed_after_a_sync += 1;
        }
        // B adds and syncs, so A's next life merges something.
        let t = b
            .add_task(TaskDraft {
                title: format!("from B {round}"),
                ..Default::default()
            })
            .unwrap();
        from_b.insert(t.id);
        b.sync_now(&mut tb).unwrap();
        // The killed vault opens every time.
        Vault::open(da.path(), &Unlock::recovery_key(key_a.clone()), env())
            .unwrap_or_else(|e| panic!("round {round}: A does not open after kill -9: {e}"));
    }
    assert!(
        killed_after_a_sync >= ROUNDS / 3,
        "only {killed_after_a_sync} rounds got as far as a sync"
    );

    let mut a = Vault::open(da.path(), &Unlock::recovery_key(key_a), env()).unwrap();
    let mut ta = HttpTransport::new(&a.sync_endpoint().unwrap()).unwrap();
    a.sync_now(&mut ta).unwrap();
    b.sync_now(&mut tb).unwrap();
    assert!(!a.sync_has_outgoing().unwrap());
    assert_eq!(shown(&a), shown(&b));
    let ids: HashSet<TaskId> = a.tasks().map(|t| t.id).collect();
    for id in acked.iter().chain(&from_b) {
        assert!(ids.contains(id), "task {id} acknowledged but lost");
    }
    let mut titles: Vec<&str> = a.tasks().map(|t| t.title.as_str()).collect();
    titles.sort();
    let n = titles.len();
    titles.dedup();
    assert_eq!(titles.len(), n, "a task arrived twice");
    eprintln!(
        "sync crash test: {ROUNDS} kills ({killed_after_a_sync} after at least one sync), {} adds acknowledged on A, {} from B, all present once",
        acked.len(),
        from_b.len()
    );
    let _ = rt.block_on(server.stop());
}
