//! The shell's share of the UI's latency: commands through Tauri's IPC
//! layer (mock runtime, no webview) on a vault of N tasks, release profile.
//! Prints a table; asserts nothing.
//!
//!   cargo bench -p productivitypro --bench ipc -- 10000,100000

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use productivitypro_app::background::Ticks;
use productivitypro_app::reminders::{Notice, NoticeSink};
use productivitypro_app::shell::ShellConfig;
use productivitypro_app::{context, handler, install, Notices, Options};
use productivitypro_core::interchange::{self, Bundle, Format};
use productivitypro_core::{Due, Env, FixedClock, Id, List, OrderKey, Priority, Task};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindow;

struct Quiet;
impl NoticeSink for Quiet {
    fn show(&self, _: &Notice) {}
}

fn call(w: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> (Value, usize) {
    let body = get_ipc_response(
        w,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    let v: Value = body.deserialize().unwrap();
    let bytes = serde_json::to_vec(&v).unwrap().len();
    (v, bytes)
}

fn bundle(n: usize, seed: u64) -> Bundle {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
    let lists: Vec<List> = (0..12)
        .map(|i| List {
            id: Id::random(&mut rng),
            name: format!("List {i}"),
            colour: None,
            order: OrderKey::first(),
            archived: false,
            created_at: now,
            updated_at: now,
        })
        .collect();
    let words = [
        "call", "email", "review", "report", "buy", "milk", "plan", "trip", "fix", "bug", "write",
        "notes", "pay", "rent", "book", "dentist",
    ];
    let tasks = (0..n)
        .map(|_| {
            let title: Vec<&str> = (0..rng.gen_range(2..8))
                .map(|_| words[rng.gen_range(0..words.len())])
                .collect();
            let due = rng.gen_bool(0.35).then(|| {
                Due::date(now.date_naive() + chrono::Duration::days(rng.gen_range(-10..30)))
            });
            Task {
                id: Id::random(&mut rng),
                title: title.join(" "),
                notes: String::new(),
                list: rng
                    .gen_bool(0.8)
                    .then(|| lists[rng.gen_range(0..lists.len())].id),
                tags: Default::default(),
                priority: Priority::new(rng.gen_range(0..5)).unwrap(),
                due,
                recurrence: None,
                parent: None,
                order: OrderKey::first(),
                done: rng.gen_bool(0.4),
                done_at: None,
                created_at: now,
                updated_at: now,
                trashed_at: None,
            }
        })
        .collect();
    Bundle { lists, tasks }
}

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p99 = v[((v.len() as f64 * 0.99).ceil() as usize).min(v.len()) - 1];
    (ms(v[v.len() / 2]), ms(p99))
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.split(',').map(|n| n.parse().unwrap()).collect())
        .unwrap_or_else(|| vec![1000, 10000]);
    println!(
        "| tasks | unlock (passphrase) ms | snapshot MB | task_add median / p99 ms | Changes bytes | view_query inbox / today / search median ms |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let data = tempfile::tempdir().unwrap();
        let config = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap(),
        ));
        let env_clock = clock.clone();
        let cfg = ShellConfig {
            data_dir: data.path().join("vault"),
            config_dir: config.path().to_path_buf(),
            env: Arc::new(move || Env {
                clock: Box::new(env_clock.clone()),
                rng: Box::new(rand::rngs::OsRng),
                local_tz: chrono_tz::Europe::Berlin,
                keyring_service: "ProductivityPro-bench".into(),
            }),
            clock,
            tz: chrono_tz::Europe::Berlin,
        };
        let mut app = mock_builder()
            .invoke_handler(handler())
            .build(context())
            .unwrap();
        let quiet: Arc<dyn NoticeSink> = Arc::new(Quiet);
        let ticks = Ticks {
            changes: Duration::from_secs(3600),
            ..Ticks::default()
        };
        install(
            &mut app,
            Options {
                cfg,
                ticks,
                notices: Notices::To(quiet),
                launch: Default::default(),
                updates: productivitypro_app::updates::UpdateConfig::unavailable("benchmark"),
                crash: None,
            },
        )
        .unwrap();
        let w = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        call(&w, "vault_create", json!({ "passphrase": "bench pass" }));
        let file = data.path().join("tasks.json");
        let mut bytes = Vec::new();
        interchange::export(Format::Json, &bundle(n, 7), &mut bytes).unwrap();
        std::fs::write(&file, bytes).unwrap();
        call(&w, "import_from", json!({ "format": "json", "path": file }));

        call(&w, "vault_lock", json!({}));
        let t = Instant::now();
        let (_, snap_bytes) = call(
            &w,
            "vault_unlock",
            json!({ "method": "passphrase", "secret": "bench pass" }),
        );
        let unlock = t.elapsed();

        let mut adds = Vec::new();
        let mut change_bytes = 0;
        for i in 0..200 {
            let t = Instant::now();
            let (_, b) = call(
                &w,
                "task_add",
                json!({ "text": format!("Bench {i} tomorrow #List 3 @x !2") }),
            );
            adds.push(t.elapsed());
            change_bytes = b;
        }
        let view = |spec: Value| {
            let mut d = Vec::new();
            for _ in 0..21 {
                let t = Instant::now();
                call(&w, "view_query", json!({ "view": spec }));
                d.push(t.elapsed());
            }
            stats(d).0
        };
        let inbox = view(json!({ "kind": "inbox" }));
        let today = view(json!({ "kind": "today" }));
        let search = view(json!({ "kind": "search", "text": "review report" }));
        let (add_med, add_p99) = stats(adds);
        println!(
            "| {n} | {:.0} | {:.1} | {add_med:.2} / {add_p99:.2} | {change_bytes} | {inbox:.2} / {today:.2} / {search:.2} |",
            unlock.as_secs_f64() * 1000.0,
            snap_bytes as f64 / 1e6,
        );
    }
}
