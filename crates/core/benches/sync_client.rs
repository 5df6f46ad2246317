//! Sync client figures through the core's engine and the real
//! `sync-server` on loopback (in this process), on SQLite and — when
//! `PRODUCTIVITYPRO_TEST_DATABASE_URL` is set (`scripts/with-postgres`) —
//! PostgreSQL:
//!
//! - **initial sync**: a device with N tasks (default 10 000) signs up and
//!   pushes them; a fresh device signs in and runs one `sync_now`
//!   (snapshot-less: every batch replayed; and again after the first
//!   device uploaded a snapshot). Sign-in (Argon2id) is timed apart.
//! - **propagation A → B**: A adds a task and pushes; B, waiting on the
//!   server's WebSocket notice (as `pp sync watch` and the app do), pulls
//!   and merges into its vault. Timed from before A's local commit to
//!   after B's merge committed; p50/p99 over R rounds (default 200).
//!
//! `cargo bench -p productivitypro-core --bench sync_client [-- N R]`.
//! Prints a Markdown table; numbers, not assertions.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use productivitypro_core::domain::{Id, Priority, Task};
use productivitypro_core::interchange::Bundle;
use productivitypro_core::order::OrderKey;
use productivitypro_core::vault::sync::{HttpTransport, RecoveryChoice};
use productivitypro_core::vault::TaskDraft;
use productivitypro_core::Vault;
use productivitypro_sync_protocol::api::Notice;
use productivitypro_sync_protocol::client::Notifications;
use productivitypro_sync_server::clock::SystemClock;
use productivitypro_sync_server::config::HashCost;
use productivitypro_sync_server::{Config, Server};
use rand::SeedableRng;

const PASS: &str = "a long sync passphrase";

fn http(v: &Vault) -> HttpTransport {
    HttpTransport::new(&v.sync_endpoint().unwrap()).unwrap()
}

fn vault(dir: &Path) -> Vault {
    let (v, _) = support::quick_vault(dir);
    v
}

fn bundle(n: usize) -> Bundle {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(n as u64);
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let tasks = OrderKey::sequence(None, n)
        .into_iter()
        .enumerate()
        .map(|(i, order)| Task {
            id: Id::random(&mut rng),
            title: format!("Task number {i} with a realistic title"),
            notes: if i % 3 == 0 {
                "Some notes that go with it, a sentence or two long.".into()
            } else {
                String::new()
            },
            list: None,
            tags: if i % 4 == 0 {
                ["home".to_string()].into()
            } else {
                Default::default()
            },
            priority: Priority::new((i % 5) as u8).unwrap(),
            due: None,
            recurrence: None,
            parent: None,
            order,
            done: i % 5 == 0,
            done_at: (i % 5 == 0).then_some(now),
            created_at: now,
            updated_at: now,
            trashed_at: None,
        })
        .collect();
    Bundle {
        lists: Vec::new(),
        tasks,
    }
}

struct Service {
    rt: tokio::runtime::Runtime,
    server: Option<Server>,
    base: String,
    _dir: tempfile::TempDir,
}

impl Service {
    fn start(postgres: Option<&str>) -> Service {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = match postgres {
            Some(admin) => rt.block_on(productivitypro_sync_server::scratch::fresh_postgres(admin)),
            None => format!("sqlite://{}/sync.db", dir.path().display()),
        };
        let mut c = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            database_url: Some(db),
            log_format: "text".into(),
            login_hash: HashCost {
                m_kib: 19 * 1024,
                t: 2,
                p: 1,
            },
            ..Config::default()
        };
        c.rate.per_ip = 1_000_000;
        c.rate.per_ip_burst = 1_000_000;
        c.rate.per_account = 1_000_000;
        c.rate.per_account_burst = 1_000_000;
        let server = rt
            .block_on(Server::start(c, Arc::new(SystemClock)))
            .unwrap();
        let base = format!("http://{}", server.addr);
        Service {
            rt,
            server: Some(server),
            base,
            _dir: dir,
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.stop());
        }
    }
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

struct Figures {
    backend: &'static str,
    first_push: Duration,
    sign_in: Duration,
    initial: Duration,
    initial_snapshot: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn run(backend: &'static str, postgres: Option<&str>, n: usize, rounds: usize) -> Figures {
    let svc = Service::start(postgres);
    let email = "bench@example.com";
    let tmp = tempfile::tempdir().unwrap();

    // Device A: N tasks, then sign up (stamps them) and push everything.
    let mut a = vault(&tmp.path().join("a"));
    a.import(bundle(n), false).unwrap();
    a.sync_signup(&svc.base, email, PASS, RecoveryChoice::Without)
        .unwrap();
    let t = Instant::now();
    a.sync_now(&mut http(&a)).unwrap();
    let first_push = t.elapsed();

    // Device B: sign-in apart, then one round = the initial sync.
    let mut b = vault(&tmp.path().join("b"));
    let t = Instant::now();
    b.sync_login(&svc.base, email, PASS).unwrap();
    let sign_in = t.elapsed();
    let t = Instant::now();
    b.sync_now(&mut http(&b)).unwrap();
    let initial = t.elapsed();
    assert_eq!(b.tasks().count(), n, "B holds every task");

    // With a snapshot: a third device starts from it.
    a.sync_now(&mut http(&a)).unwrap();
    assert!(
        a.sync_upload_snapshot(&mut http(&a)).unwrap(),
        "snapshot taken"
    );
    let mut c = vault(&tmp.path().join("c"));
    c.sync_login(&svc.base, email, PASS).unwrap();
    let t = Instant::now();
    let r = c.sync_now(&mut http(&c)).unwrap();
    let initial_snapshot = t.elapsed();
    assert!(r.snapshot_loaded, "C started from the snapshot");
    assert_eq!(c.tasks().count(), n);
    drop(c);

    // Propagation: B watches on its own thread, like the app's loop.
    let (merged_tx, merged_rx) = mpsc::channel::<Instant>();
    let endpoint = b.sync_endpoint().unwrap();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let watcher = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut socket = rt
            .block_on(Notifications::connect(&endpoint.server, &endpoint.token))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut seen = 0;
        while seen < rounds {
            let head = match rt.block_on(socket.next()) {
                Ok(Some(Notice::Head { head })) => head,
                _ => break,
            };
            let cursor = b.sync_info().unwrap().map_or(0, |i| i.cursor);
            if head <= cursor {
                continue;
            }
            let r = b.sync_now(&mut http(&b)).unwrap();
            if r.pulled_ops > 0 {
                seen += 1;
                merged_tx.send(Instant::now()).unwrap();
            }
        }
        b
    });
    ready_rx.recv().unwrap();
    // The notice on connect may trigger one empty round; let it pass.
    std::thread::sleep(Duration::from_millis(300));
    let mut lat = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let t0 = Instant::now();
        a.add_task(TaskDraft {
            title: format!("propagated {i}"),
            ..Default::default()
        })
        .unwrap();
        a.sync_now(&mut http(&a)).unwrap();
        let at = merged_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("B merged the change");
        lat.push(at - t0);
        std::thread::sleep(Duration::from_millis(20));
    }
    let b = watcher.join().unwrap();
    assert_eq!(b.tasks().count(), n + rounds);
    let max = *lat.iter().max().unwrap();
    Figures {
        backend,
        first_push,
        sign_in,
        initial,
        initial_snapshot,
        p50: pct(&mut lat, 0.50),
        p99: pct(&mut lat, 0.99),
        max,
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(10_000);
    let rounds = args.get(1).copied().unwrap_or(200);
    let mut rows = vec![run("SQLite", None, n, rounds)];
    match std::env::var("PRODUCTIVITYPRO_TEST_DATABASE_URL") {
        Ok(admin) => rows.push(run("PostgreSQL", Some(&admin), n, rounds)),
        Err(_) => eprintln!("PRODUCTIVITYPRO_TEST_DATABASE_URL unset: PostgreSQL skipped (run under scripts/with-postgres)"),
    }
    println!("sync client, {n} tasks, {rounds} propagation rounds (ms)\n");
    println!("| backend | A pushes {n} | B sign-in | B initial sync (batches) | C initial sync (snapshot) | A→B p50 | A→B p99 | A→B max |");
    println!("|---|---|---|---|---|---|---|---|");
    for f in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            f.backend,
            ms(f.first_push),
            ms(f.sign_in),
            ms(f.initial),
            ms(f.initial_snapshot),
            ms(f.p50),
            ms(f.p99),
            ms(f.max)
        );
    }
}
