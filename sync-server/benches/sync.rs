//! Server-side figures for `docs/benchmarks.md`, against the release
//! `sync-server` binary on loopback: push throughput with 50 concurrent
//! devices, bytes on the wire per operation, pull throughput for a 10k-op
//! catch-up (raw and through the reference engine), a new device's initial
//! sync of 10k tasks, notice latency, and server memory per open socket.
//! SQLite always; PostgreSQL too when PRODUCTIVITYPRO_TEST_DATABASE_URL is
//! set (run under scripts/with-postgres).
//!
//!   cargo bench -p productivitypro-sync-server --bench sync

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{now_ms, Tap};
use productivitypro_sync_protocol::api::Notice;
use productivitypro_sync_protocol::client::account::{self, SignedIn};
use productivitypro_sync_protocol::client::{MemoryDevice, Notifications, SyncClient};
use productivitypro_sync_protocol::{keys, BatchEnvelope, DeviceId, LoginId, RecordId};
use serde_json::{json, Value};

struct Srv {
    child: Child,
    base: String,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Srv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(db: &str) -> Srv {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db = if db == "sqlite" {
        format!("sqlite://{}/sync.db", dir.path().display())
    } else {
        db.to_string()
    };
    let child = Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("SYNC_DATABASE_URL", &db)
        .env("SYNC_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .env("SYNC_RATE__PER_IP", "100000000")
        .env("SYNC_RATE__PER_IP_BURST", "100000000")
        .env("SYNC_RATE__PER_ACCOUNT", "100000000")
        .env("SYNC_RATE__PER_ACCOUNT_BURST", "100000000")
        .env("SYNC_RATE__AUTH_PER_IP", "100000000")
        .env("SYNC_RATE__AUTH_BURST", "100000000")
        .env("SYNC_LIMITS__MAX_SOCKETS_PER_ACCOUNT", "100000")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..500 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Srv {
        child,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        base,
        _dir: dir,
    }
}

/// CPU seconds the process has used (user + system).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), counted after the command name.
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

async fn signup(client: &SyncClient) -> (LoginId, SignedIn) {
    let (kdf, pk) = common::keys();
    let login = keys::login_id(&common::Harness::email()).unwrap();
    let s = account::signup_derived(
        client,
        login,
        kdf.clone(),
        pk,
        None,
        DeviceId::random(&mut common::rng()),
        None,
        &mut common::rng(),
    )
    .await
    .unwrap();
    (login, s)
}

async fn login(client: &SyncClient, login: LoginId) -> SignedIn {
    account::login(
        client,
        login,
        &common::keys().1,
        DeviceId::random(&mut common::rng()),
        None,
    )
    .await
    .unwrap()
}

/// A realistic task edit: which field, and a value of typical size.
fn task_op(i: usize) -> (&'static str, Value) {
    match i % 6 {
        0 => (
            "title",
            json!(format!("Buy groceries for the weekend trip #{i}")),
        ),
        1 => (
            "notes",
            json!(
                "Ask Sam about the camping stove; check the gas canister and the spare batteries."
            ),
        ),
        2 => ("order", json!(format!("V{:03}", i % 1000))),
        3 => ("priority", json!(2)),
        4 => ("due", json!({"date": "2026-12-01", "time": "09:30:00"})),
        _ => ("done", json!(i.is_multiple_of(2))),
    }
}

fn device(client: &SyncClient, s: &SignedIn) -> MemoryDevice<common::Rng> {
    MemoryDevice::new(client.clone(), &s.session, s.key.clone(), common::rng())
}

/// Seals `batches` batches of `ops` operations each.
fn presealed(d: &mut MemoryDevice<common::Rng>, batches: usize, ops: usize) -> Vec<BatchEnvelope> {
    d.max_ops_per_batch = ops;
    let t = now_ms();
    for i in 0..batches * ops {
        let (f, v) = task_op(i);
        d.set("task", RecordId([(i / 6 % 250) as u8; 16]), f, v, t)
            .unwrap();
    }
    d.seal();
    d.sealed_batches()
}

async fn push_throughput(srv: &Srv, devices: usize, batches: usize, ops: usize) -> (f64, f64, f64) {
    let client = SyncClient::new(&srv.base);
    let mut work = Vec::new();
    for _ in 0..devices {
        let (_, s) = signup(&client).await;
        let mut d = device(&client, &s);
        work.push((s.session.token.clone(), presealed(&mut d, batches, ops)));
    }
    let cpu = cpu_secs(srv.child.id());
    let started = Instant::now();
    let tasks: Vec<_> = work
        .into_iter()
        .map(|(token, envs)| {
            let client = client.clone();
            tokio::spawn(async move {
                for e in envs {
                    client.push(&token, std::slice::from_ref(&e)).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_secs(srv.child.id()) - cpu;
    let total = (devices * batches * ops) as f64;
    let n = (devices * batches) as f64;
    (total / secs, n / secs, cpu / n * 1e6)
}

/// Requests per second for a cheap endpoint, 50 concurrent clients: the
/// ceiling HTTP and the load generator put on everything else.
async fn baseline(srv: &Srv, path: &str, token: Option<String>) -> f64 {
    let http = reqwest::Client::new();
    let n = 40;
    let started = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (http, url, token) = (http.clone(), format!("{}{path}", srv.base), token.clone());
            tokio::spawn(async move {
                for _ in 0..n {
                    let mut rb = http.get(&url);
                    if let Some(t) = &token {
                        rb = rb.bearer_auth(t);
                    }
                    assert!(rb.send().await.unwrap().status().is_success());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (50 * n) as f64 / started.elapsed().as_secs_f64()
}

async fn wire_bytes(srv: &Srv, ops_per_batch: usize) -> (f64, f64) {
    let tap = Tap::start(srv.addr).await;
    let client = SyncClient::new(&format!("http://{}", tap.addr));
    let direct = SyncClient::new(&srv.base);
    let (login_id, s) = signup(&direct).await;
    let reader = login(&direct, login_id).await;
    let mut d = device(&client, &s);
    let total_ops = 1000;
    let envs = presealed(&mut d, total_ops / ops_per_batch, ops_per_batch);
    let before = tap.bytes().len();
    for e in &envs {
        client
            .push(&s.session.token, std::slice::from_ref(e))
            .await
            .unwrap();
    }
    let pushed = tap.bytes().len() - before;
    let mut r = device(&client, &reader);
    let before = tap.bytes().len();
    r.sync().await.unwrap();
    let pulled = tap.bytes().len() - before;
    (
        pushed as f64 / total_ops as f64,
        pulled as f64 / total_ops as f64,
    )
}

struct CatchUp {
    raw_ops_per_s: f64,
    engine_ops_per_s: f64,
    engine_ms: f64,
}

async fn catch_up(srv: &Srv, ops: usize) -> CatchUp {
    let client = SyncClient::new(&srv.base);
    let (login_id, s) = signup(&client).await;
    let mut a = device(&client, &s);
    let envs = presealed(&mut a, ops / 100, 100);
    for chunk in envs.chunks(50) {
        client.push(&s.session.token, chunk).await.unwrap();
    }
    let r = login(&client, login_id).await;
    let started = Instant::now();
    let mut after = 0;
    let mut n = 0;
    loop {
        let page = client.pull(&r.session.token, after, None).await.unwrap();
        n += page.batches.len();
        after = page.next;
        if !page.more {
            break;
        }
    }
    assert_eq!(n, ops / 100);
    let raw = started.elapsed().as_secs_f64();
    let mut b = device(&client, &r);
    let started = Instant::now();
    let rep = b.sync().await.unwrap();
    let engine = started.elapsed().as_secs_f64();
    assert_eq!(rep.pulled_ops, ops);
    CatchUp {
        raw_ops_per_s: ops as f64 / raw,
        engine_ops_per_s: ops as f64 / engine,
        engine_ms: engine * 1000.0,
    }
}

/// 10k tasks of 7 fields each, created on one device; a new device signs
/// in and syncs, from the log alone and from a snapshot.
async fn initial_sync(srv: &Srv) -> (f64, f64, usize) {
    let client = SyncClient::new(&srv.base);
    let (login_id, s) = signup(&client).await;
    let mut a = device(&client, &s);
    a.max_ops_per_batch = 1000;
    let t = now_ms();
    for n in 0..10_000u32 {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&n.to_be_bytes());
        let id = RecordId(id);
        for i in 0..6 {
            let (f, v) = task_op(i + n as usize);
            a.set("task", id, f, v, t).unwrap();
        }
        a.set("task", id, "created_at", json!("2026-11-23T12:00:00Z"), t)
            .unwrap();
    }
    a.sync().await.unwrap();
    let started = Instant::now();
    let mut b = device(&client, &login(&client, login_id).await);
    b.bootstrap().await.unwrap();
    let from_log = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(b.replica.view().len(), 10_000);
    assert!(a.upload_snapshot().await.unwrap());
    let snap_bytes = client
        .snapshot(&a.token)
        .await
        .unwrap()
        .unwrap()
        .ciphertext
        .len();
    let started = Instant::now();
    let mut c = device(&client, &login(&client, login_id).await);
    c.bootstrap().await.unwrap();
    let from_snapshot = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(c.replica.view().len(), 10_000);
    (from_log, from_snapshot, snap_bytes)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn latency(srv: &Srv, rounds: usize) -> (f64, f64, f64, f64) {
    let client = SyncClient::new(&srv.base);
    let (login_id, s) = signup(&client).await;
    let mut a = device(&client, &s);
    let mut b = device(&client, &login(&client, login_id).await);
    let mut socket = Notifications::connect(&srv.base, &b.token).await.unwrap();
    socket.next().await.unwrap();
    let (mut notice, mut applied) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        a.set(
            "task",
            RecordId([1; 16]),
            "title",
            json!(format!("edit {i}")),
            now_ms(),
        )
        .unwrap();
        let t0 = Instant::now();
        a.seal();
        a.push().await.unwrap();
        loop {
            match socket.next().await.unwrap() {
                Some(Notice::Head { head }) if head as usize > i => break,
                Some(_) => continue,
                None => panic!("socket closed"),
            }
        }
        notice.push(t0.elapsed().as_secs_f64() * 1000.0);
        b.pull().await.unwrap();
        applied.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    assert_eq!(a.replica.view(), b.replica.view());
    (
        percentile(&mut notice, 0.5),
        percentile(&mut notice, 0.99),
        percentile(&mut applied, 0.5),
        percentile(&mut applied, 0.99),
    )
}

async fn memory_per_socket(srv: &Srv, sockets: usize) -> (f64, u64) {
    let client = SyncClient::new(&srv.base);
    let (_, s) = signup(&client).await;
    let mut warm = Vec::new();
    for _ in 0..100 {
        warm.push(
            Notifications::connect(&srv.base, &s.session.token)
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(srv.child.id());
    let mut open = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let mut n = Notifications::connect(&srv.base, &s.session.token)
            .await
            .unwrap();
        n.next().await.unwrap();
        open.push(n);
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after = rss_kib(srv.child.id());
    drop(open);
    drop(warm);
    (
        (after.saturating_sub(before)) as f64 * 1024.0 / sockets as f64,
        after,
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut backends = vec![("SQLite".to_string(), "sqlite".to_string())];
        if std::env::var_os("PRODUCTIVITYPRO_TEST_DATABASE_URL").is_some() {
            backends.push(("PostgreSQL".into(), common::postgres().await.unwrap()));
        }
        common::keys();
        println!("## sync-server ({} cores)\n", std::thread::available_parallelism().map_or(0, |n| n.get()));
        println!("| backend | figure | value |\n|---|---|---:|");
        for (name, db) in backends {
            let srv = start(&db).await;
            if std::env::var_os("PP_BENCH_SOCKETS_ONLY").is_none() {
            let info = baseline(&srv, "/v1/info", None).await;
            let (_, s) = signup(&SyncClient::new(&srv.base)).await;
            let account = baseline(&srv, "/v1/account", Some(s.session.token.clone())).await;
            println!("| {name} | baseline, 50 clients: GET /v1/info (no database) / GET /v1/account (token check + one read) | {info:.0} / {account:.0} requests/s |");
            for (batches, ops) in [(40, 1), (40, 10), (20, 100)] {
                let (ops_s, batches_s, cpu_us) = push_throughput(&srv, 50, batches, ops).await;
                println!("| {name} | push, 50 devices, {ops} ops/batch, 1 batch/request | {ops_s:.0} ops/s ({batches_s:.0} batches/s, server CPU {cpu_us:.0} µs/batch) |");
            }
            }
            if std::env::var_os("PP_BENCH_PUSH_ONLY").is_some() {
                continue;
            }
            if std::env::var_os("PP_BENCH_SOCKETS_ONLY").is_some() {
                drop(srv);
                let srv = start(&db).await;
                let (per, rss) = memory_per_socket(&srv, 2000).await;
                println!("| {name} | server memory per open socket (2000 sockets, RSS {:.0} MiB) | {:.1} KiB |", rss as f64 / 1024.0, per / 1024.0);
                continue;
            }
            for ops in [1, 10, 100] {
                let (push, pull) = wire_bytes(&srv, ops).await;
                println!("| {name} | bytes on the wire per op, {ops} ops/batch | push {push:.0} B, pull {pull:.0} B |");
            }
            let c = catch_up(&srv, 10_000).await;
            println!("| {name} | 10k-op catch-up, HTTP pull only | {:.0} ops/s |", c.raw_ops_per_s);
            println!("| {name} | 10k-op catch-up, pull + verify + decrypt + merge | {:.0} ops/s ({:.0} ms) |", c.engine_ops_per_s, c.engine_ms);
            let (log, snap, bytes) = initial_sync(&srv).await;
            println!("| {name} | new device, 10k tasks (70k ops), from the log | {log:.0} ms |");
            println!("| {name} | new device, 10k tasks, from a snapshot ({:.1} MiB sealed) | {snap:.0} ms |", bytes as f64 / 1048576.0);
            let (n50, n99, a50, a99) = latency(&srv, 200).await;
            println!("| {name} | push → notice on the other device, p50 / p99 | {n50:.1} / {n99:.1} ms |");
            println!("| {name} | push → applied on the other device, p50 / p99 | {a50:.1} / {a99:.1} ms |");
            drop(srv);
            let srv = start(&db).await;
            let (per, rss) = memory_per_socket(&srv, 2000).await;
            println!("| {name} | server memory per open socket (2000 sockets, RSS {:.0} MiB) | {:.1} KiB |", rss as f64 / 1024.0, per / 1024.0);
        }
    });
}
