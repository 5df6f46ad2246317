//! A headless app (`tauri::test::mock_builder`) with the real commands,
//! capability and background loops, over a real vault in a temporary
//! folder and the real OS keyring (run inside `scripts/with-keyring`).
//! Calls go through the IPC layer exactly as the UI's do, permission
//! checks included.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use productivitypro_app::background::Ticks;
use productivitypro_app::desktop::launch::Launch;
use productivitypro_app::reminders::{Notice, NoticeSink};
use productivitypro_app::shell::ShellConfig;
use productivitypro_app::updates::UpdateConfig;
use productivitypro_app::{context, handler, install, Notices, Options};
use productivitypro_core::{Clock, Env, FixedClock};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, WebviewWindow};

pub const KEYRING_SERVICE: &str = "ProductivityPro-app-test";
pub const TZ: chrono_tz::Tz = chrono_tz::Europe::Berlin;
pub const PASS: &str = "correct horse battery staple";

/// Fails loudly without a Secret Service (these tests need the real one).
pub fn require_keyring() {
    let probe = keyring::Entry::new(KEYRING_SERVICE, "probe").unwrap();
    if let Err(e) = probe.set_password("probe") {
        panic!(
            "no usable Secret Service ({e}); run the tests with scripts/with-keyring (make test)"
        );
    }
    let _ = probe.delete_credential();
}

/// Notices the reminder loop would show, in order.
#[derive(Default)]
pub struct RecordedNotices {
    pub shown: Mutex<Vec<Notice>>,
    cv: Condvar,
}

impl NoticeSink for RecordedNotices {
    fn show(&self, n: &Notice) {
        self.shown.lock().unwrap().push(n.clone());
        self.cv.notify_all();
    }
}

impl RecordedNotices {
    /// Waits until at least `n` notices were shown, or panics.
    pub fn wait_for(&self, n: usize) -> Vec<Notice> {
        let g = self.shown.lock().unwrap();
        let (g, _) = self
            .cv
            .wait_timeout_while(g, Duration::from_secs(20), |v| v.len() < n)
            .unwrap();
        assert!(g.len() >= n, "expected {n} notices, got {:?}", *g);
        g.clone()
    }

    pub fn take(&self) -> Vec<Notice> {
        std::mem::take(&mut *self.shown.lock().unwrap())
    }
}

#[derive(Default)]
pub struct Events {
    pub seen: Mutex<Vec<(String, Value)>>,
    cv: Condvar,
}

pub struct Harness {
    pub app: App<MockRuntime>,
    pub window: WebviewWindow<MockRuntime>,
    pub data: tempfile::TempDir,
    pub config: tempfile::TempDir,
    pub clock: Arc<FixedClock>,
    pub events: Arc<Events>,
    pub notices: Arc<RecordedNotices>,
}

pub struct Setup {
    pub ticks: Ticks,
    pub launch: Launch,
    pub now: DateTime<Utc>,
    /// Reminders to the OS notification server (the notification plugin
    /// is registered) instead of being recorded.
    pub os_notifications: bool,
    pub data: Option<tempfile::TempDir>,
    pub config: Option<tempfile::TempDir>,
    /// In-app updates (none unless a test sets a service; the install id
    /// then lives in the config folder unless `id_dir` says otherwise).
    pub updates: UpdateConfig,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            ticks: Ticks {
                changes: Duration::from_millis(50),
                idle: Duration::from_millis(50),
                reminders: Duration::from_millis(50),
                reminder_check_every: chrono::Duration::seconds(60),
                backups: Duration::from_secs(3600),
            },
            launch: Launch::default(),
            now: Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap(),
            os_notifications: false,
            data: None,
            config: None,
            updates: UpdateConfig::unavailable("no update service in this test"),
        }
    }
}

const EVENTS: &[&str] = &[
    "vault://changed",
    "vault://locked",
    "app://quick-add",
    "app://navigate",
    "app://error",
    "update://state",
];

/// Calls a command through IPC from `window`, as its UI does. A window,
/// unlike the `Harness` (whose `App` is not `Sync`), can be shared with
/// other threads, for tests that run commands at the same time.
pub fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        window,
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
    .map(|b| b.deserialize::<Value>().unwrap())
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(Setup::default())
    }

    pub fn with(setup: Setup) -> Harness {
        let data = setup.data.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let config = setup.config.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let clock = Arc::new(FixedClock::new(setup.now));
        let env_clock = clock.clone();
        let shell_clock: Arc<dyn Clock> = clock.clone();
        let cfg = ShellConfig {
            data_dir: data.path().join("vault"),
            config_dir: config.path().to_path_buf(),
            env: Arc::new(move || Env {
                clock: Box::new(env_clock.clone()),
                rng: Box::new(rand::rngs::OsRng),
                local_tz: TZ,
                keyring_service: KEYRING_SERVICE.into(),
            }),
            clock: shell_clock,
            tz: TZ,
        };
        let notices = Arc::new(RecordedNotices::default());
        let sink: Arc<dyn NoticeSink> = notices.clone();
        let os = setup.os_notifications;
        let mut updates = setup.updates;
        if updates.id_dir.is_none() {
            updates.id_dir = Some(config.path().to_path_buf());
        }
        // Never the user's cache folder.
        if updates.artifact_dir.is_none() {
            updates.artifact_dir = Some(config.path().join("updates"));
        }
        let mut ctx = context();
        let with_updater = updates.configure(&mut ctx);
        let opts = Options {
            cfg,
            ticks: setup.ticks,
            notices: if os { Notices::Os } else { Notices::To(sink) },
            launch: setup.launch,
            updates,
            crash: None,
        };
        let mut builder = mock_builder();
        if os {
            builder = builder.plugin(tauri_plugin_notification::init());
        }
        if with_updater {
            builder = builder.plugin(productivitypro_app::updates::plugin());
        }
        // The mock runtime has no event loop to run `setup`: install
        // directly, as `run()`'s setup does.
        let mut app = builder
            .plugin(productivitypro_app::desktop::autostart::plugin())
            .invoke_handler(handler())
            .build(ctx)
            .expect("the app builds");
        install(&mut app, opts).expect("install");
        let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        let events = Arc::new(Events::default());
        for name in EVENTS {
            let events = events.clone();
            let name_s = name.to_string();
            app.listen_any(*name, move |e| {
                let v: Value = serde_json::from_str(e.payload()).unwrap_or(Value::Null);
                events.seen.lock().unwrap().push((name_s.clone(), v));
                events.cv.notify_all();
            });
        }
        Harness {
            app,
            window,
            data,
            config,
            clock,
            events,
            notices,
        }
    }

    pub fn vault_dir(&self) -> PathBuf {
        self.data.path().join("vault")
    }

    /// Calls a command through IPC, as the UI does.
    pub fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        self.call_from(&self.window, cmd, args)
    }

    pub fn call_from(
        &self,
        window: &WebviewWindow<MockRuntime>,
        cmd: &str,
        args: Value,
    ) -> Result<Value, Value> {
        invoke(window, cmd, args)
    }

    pub fn ok(&self, cmd: &str, args: Value) -> Value {
        match self.call(cmd, args.clone()) {
            Ok(v) => v,
            Err(e) => panic!("{cmd} {args} failed: {e}"),
        }
    }

    /// Calls a command that must fail; returns its error code, after
    /// checking the error has the `{code, message}` shape.
    pub fn err(&self, cmd: &str, args: Value) -> String {
        match self.call(cmd, args.clone()) {
            Ok(v) => panic!("{cmd} {args} succeeded: {v}"),
            Err(e) => {
                let code = e["code"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{cmd}: error without a code: {e}"));
                assert!(
                    e["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{cmd}: error without a message: {e}"
                );
                code.to_string()
            }
        }
    }

    /// Creates the vault with a passphrase and confirms the recovery key;
    /// returns the recovery key.
    pub fn create(&self) -> String {
        let c = self.ok("vault_create", json!({ "passphrase": PASS }));
        let key = c["recoveryKey"].as_str().unwrap().to_string();
        assert_eq!(c["keyringError"], Value::Null, "the test keyring works");
        let groups: Vec<&str> = key.split('-').collect();
        let ok = self.ok(
            "vault_confirm_recovery",
            json!({ "answers": [
                { "group": 2, "text": groups[1] },
                { "group": 9, "text": groups[8] },
            ]}),
        );
        assert_eq!(ok, json!({ "ok": true }));
        key
    }

    pub fn add(&self, text: &str) -> Value {
        let c = self.ok("task_add", json!({ "text": text }));
        assert_eq!(c["tasks"].as_array().unwrap().len(), 1, "{c}");
        c["tasks"][0].clone()
    }

    /// Every task the vault holds, the trash included, as `TaskDto`s in
    /// manual order — what the snapshot carried before the UI stopped
    /// holding every task: the ids of the Inbox, each list, Completed and
    /// Trash from `view_query`, their records from `tasks_get`.
    pub fn all_tasks(&self) -> Value {
        let snap = self.ok("vault_snapshot", json!({}));
        let mut views = vec![
            json!({ "kind": "inbox" }),
            json!({ "kind": "completed" }),
            json!({ "kind": "trash" }),
        ];
        for l in snap["lists"].as_array().unwrap() {
            views.push(json!({ "kind": "list", "id": l["id"] }));
        }
        let mut ids: Vec<Value> = Vec::new();
        for view in views {
            let r = self.ok("view_query", json!({ "view": view }));
            for id in r["ids"].as_array().unwrap() {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        }
        let mut tasks = self
            .ok("tasks_get", json!({ "ids": ids }))
            .as_array()
            .unwrap()
            .clone();
        let key = |t: &Value| {
            (
                t["order"].as_str().unwrap().to_string(),
                t["id"].as_str().unwrap().to_string(),
            )
        };
        tasks.sort_by_key(key);
        Value::Array(tasks)
    }

    /// Waits for the next event called `name` after `after` of them were
    /// seen; panics after 20 s.
    pub fn wait_event(&self, name: &str, after: usize) -> Value {
        let g = self.events.seen.lock().unwrap();
        let count = |v: &Vec<(String, Value)>| v.iter().filter(|(n, _)| n == name).count();
        let (g, _) = self
            .events
            .cv
            .wait_timeout_while(g, Duration::from_secs(20), |v| count(v) <= after)
            .unwrap();
        g.iter()
            .filter(|(n, _)| n == name)
            .nth(after)
            .unwrap_or_else(|| panic!("no {name} event #{after}; seen {:?}", *g))
            .1
            .clone()
    }

    pub fn count_events(&self, name: &str) -> usize {
        self.events
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .count()
    }

    /// `pp` on this vault, as another process.
    pub fn pp(&self) -> Command {
        let mut c = Command::new(pp_binary());
        c.env("PRODUCTIVITYPRO_DATA_DIR", self.vault_dir())
            .env("PRODUCTIVITYPRO_KEYRING_SERVICE", KEYRING_SERVICE)
            .env("PRODUCTIVITYPRO_TZ", TZ.name())
            .env_remove("PRODUCTIVITYPRO_PASSPHRASE")
            .env_remove("PRODUCTIVITYPRO_RECOVERY_KEY");
        c
    }
}

/// The `pp` built beside this test (`cargo build -p productivitypro-cli`;
/// `make test` builds the whole workspace first).
pub fn pp_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let pp = dir.join(format!("pp{}", std::env::consts::EXE_SUFFIX));
    assert!(
        pp.exists(),
        "{} is missing: build it with `cargo build -p productivitypro-cli`",
        pp.display()
    );
    pp
}

pub fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
