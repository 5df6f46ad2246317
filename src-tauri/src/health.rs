//! Opt-in health reports (docs/desktop-ipc.md, "Health reports"): the
//! shell over `productivitypro-health`, which decides everything (consent,
//! the queue, the crash log, the reports and their sending).
//!
//! Must hold:
//! - while consent is off nothing is queued, logged by the panic hook or
//!   sent: every path in (start, the panic hook, `update_failed`, the UI's
//!   uncaught errors, a flush) checks `enabled` first, and turning reports
//!   off empties the queue and the crash log;
//! - an event is a kind, a time, the version and the channel — no task
//!   content, no error message or stack, no path (`HealthUiError` carries
//!   nothing at all);
//! - the health files live in `<data dir>/health`, known before the Tauri
//!   builder runs, so the panic hook covers the whole start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use productivitypro_core::profile::EnvVars;
use productivitypro_core::Clock;
use productivitypro_health::consent::{Consent, ConsentFile};
use productivitypro_health::crash::{install_panic_hook as hook, CrashContext, CrashLog};
use productivitypro_health::queue::{Queue, Queued};
use productivitypro_health::report::{self, Install};
use productivitypro_health::send::{Sender, Tokens};
use productivitypro_health::start;
use productivitypro_protocol::telemetry::EventKind;
use productivitypro_protocol::{Arch, BundleType, Channel, Os};
use tauri::{AppHandle, Manager, Runtime};
use uuid::Uuid;

use crate::error::{IpcError, IpcResult};
use crate::health_dto::{HealthEventDto, HealthField, HealthPreview, HealthState};
use crate::shell::{lock, Shell};

/// Error codes of the health commands (docs/desktop-ipc.md).
pub mod codes {
    /// Writing the consent or the queue failed.
    pub const WRITE_FAILED: &str = "health_write_failed";
}

/// The health files' folder inside the app's data folder.
pub fn dir_in(data_dir: &Path) -> PathBuf {
    data_dir.join("health")
}

/// Installs the panic hook before anything else runs (`run()`, before the
/// Tauri builder). Returns its context for `Options::crash`, or `None`
/// when there is no data folder (the app then fails to start anyway).
/// The channel is `stable` until the settings are read (`start`).
pub fn install_panic_hook(version: &str) -> Option<Arc<CrashContext>> {
    let data_dir = EnvVars::from_process().data_dir(None).ok()?;
    Some(install_panic_hook_in(
        &dir_in(&data_dir),
        version,
        Utc::now(),
    ))
}

/// `install_panic_hook` with the folder and time given (tests).
pub fn install_panic_hook_in(dir: &Path, version: &str, now: DateTime<Utc>) -> Arc<CrashContext> {
    let enabled = ConsentFile::in_dir(dir)
        .load_or_create(now)
        .map(|c| c.enabled())
        .unwrap_or(false);
    let context = CrashContext::new(enabled, Channel::Stable);
    hook(
        CrashLog::in_dir(dir),
        version.to_string(),
        context.clone(),
        Utc::now,
    );
    context
}

/// The install as reports name it: its random id and the artifact it runs.
fn this_install(id: Uuid) -> Option<Install> {
    let os: Os = match std::env::consts::OS {
        "macos" => Os::Darwin,
        other => other.parse().ok()?,
    };
    let arch: Arch = match std::env::consts::ARCH {
        "x86" => Arch::I686,
        "arm" => Arch::Armv7,
        other => other.parse().ok()?,
    };
    use tauri::utils::config::BundleType as B;
    let bundle_type = tauri::utils::platform::bundle_type().and_then(|b| match b {
        B::Deb => Some(BundleType::Deb),
        B::Rpm => Some(BundleType::Rpm),
        B::AppImage => Some(BundleType::AppImage),
        B::Msi => Some(BundleType::Msi),
        B::Nsis => Some(BundleType::Nsis),
        B::App => Some(BundleType::App),
        _ => None,
    });
    Some(Install {
        id,
        os,
        arch,
        bundle_type,
    })
}

pub struct Health {
    dir: PathBuf,
    version: String,
    consent_file: ConsentFile,
    consent: Mutex<Consent>,
    queue: Queue,
    crash: Arc<CrashContext>,
    clock: Arc<dyn Clock>,
    /// `None` without an update service (or an install id): nothing can
    /// be sent, events are still queued while reports are on.
    send: Option<(Sender, Install)>,
    /// From update-check answers; taken out while a flush runs.
    tokens: Mutex<Tokens>,
    flushing: AtomicBool,
    /// A flush was asked for while one ran.
    again: AtomicBool,
    /// One UI crash per run: an error loop in the page is one crash.
    ui_crash_queued: AtomicBool,
}

/// What `install` hands over.
pub struct HealthSetup {
    pub data_dir: PathBuf,
    pub version: String,
    pub clock: Arc<dyn Clock>,
    pub crash: Option<Arc<CrashContext>>,
    /// The update service's address (`None`: no updates, nothing sent).
    pub service: Option<String>,
    pub install_id: Option<Uuid>,
}

fn write_error(e: productivitypro_health::HealthError) -> IpcError {
    IpcError::new(codes::WRITE_FAILED, e.to_string())
}

impl Health {
    fn channel<R: Runtime>(app: &AppHandle<R>) -> Channel {
        app.try_state::<Arc<Shell>>()
            .map(|s| s.settings().update_channel.into())
            .unwrap_or(Channel::Stable)
    }

    pub fn enabled(&self) -> bool {
        lock(&self.consent).enabled()
    }

    pub fn state(&self) -> HealthState {
        let c = lock(&self.consent);
        HealthState {
            enabled: c.enabled(),
            ask: c.should_ask(self.clock.now()),
            decided: c.decision.is_some(),
            can_send: self.send.is_some(),
        }
    }

    /// The user's answer (the question or Settings). Off empties the queue
    /// and the crash log.
    pub fn decide(&self, enabled: bool) -> IpcResult<HealthState> {
        {
            let mut c = lock(&self.consent);
            let mut next = c.clone();
            next.decide(enabled, self.clock.now());
            self.consent_file.save(&next).map_err(write_error)?;
            *c = next;
        }
        self.crash.set_enabled(enabled);
        if !enabled {
            self.queue.clear().map_err(write_error)?;
            CrashLog::in_dir(&self.dir).clear().map_err(write_error)?;
        }
        tracing::info!(enabled, "health reports decided");
        Ok(self.state())
    }

    fn push(&self, kind: EventKind, version: &str, channel: Channel) -> bool {
        if !self.enabled() {
            return false;
        }
        let now = self.clock.now();
        let e = Queued {
            kind,
            at: now,
            version: version.to_string(),
            channel,
        };
        match self.queue.push(&[e], now) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    code = e.code(),
                    kind = kind.as_str(),
                    "health event not queued"
                );
                false
            }
        }
    }

    /// The "what is sent" view: the fields of a report from this install
    /// (the crate's own serialisation of one), the queued events and the
    /// exact bodies that would be sent now.
    pub fn preview(&self, channel: Channel) -> HealthPreview {
        let now = self.clock.now();
        let install = self
            .send
            .as_ref()
            .map(|(_, i)| i.clone())
            .or_else(|| this_install(Uuid::nil()));
        let queued = self.queue.load(now);
        let (fields, reports) = match &install {
            Some(i) => (
                fields(&report::example(i, &self.version, channel, now)),
                report::preview(i, &queued)
                    .iter()
                    .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
                    .collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        HealthPreview {
            fields,
            queued: queued
                .iter()
                .map(|e| HealthEventDto {
                    kind: e.kind.as_str().to_string(),
                    at: e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    version: e.version.clone(),
                    channel: e.channel.as_str().to_string(),
                })
                .collect(),
            reports,
        }
    }

    /// Sends what is queued, when reports are on and a service is set.
    /// One flush at a time: asked for while one runs (new tokens, a new
    /// event), it runs again after it; tokens taken meanwhile are kept.
    pub async fn flush(&self) {
        let Some((sender, install)) = &self.send else {
            return;
        };
        if self.flushing.swap(true, Ordering::AcqRel) {
            self.again.store(true, Ordering::Release);
            return;
        }
        loop {
            self.again.store(false, Ordering::Release);
            if !self.enabled() {
                break;
            }
            let mut tokens = std::mem::take(&mut *lock(&self.tokens));
            let result = sender
                .flush(&self.queue, &mut tokens, install, self.clock.now())
                .await;
            lock(&self.tokens).merge(tokens);
            match result {
                Ok(f) => tracing::info!(
                    sent = f.sent,
                    dropped = f.dropped,
                    kept = f.kept,
                    code = f.error.as_ref().map(|e| e.code()),
                    "health reports flushed"
                ),
                Err(e) => tracing::warn!(code = e.code(), "health flush failed"),
            }
            if !self.again.load(Ordering::Acquire) {
                break;
            }
        }
        self.flushing.store(false, Ordering::Release);
        // Asked for between the last look and the flag going down.
        if self.again.swap(false, Ordering::AcqRel) {
            Box::pin(self.flush()).await;
        }
    }
}

/// A report's fields as the view lists them: top-level names, and
/// `events[].name` for an event's.
fn fields(report: &serde_json::Value) -> Vec<HealthField> {
    let mut out = Vec::new();
    let Some(obj) = report.as_object() else {
        return out;
    };
    for (name, value) in obj {
        match value {
            serde_json::Value::Array(items) => {
                let first = items.first().and_then(|v| v.as_object());
                for (k, v) in first.into_iter().flatten() {
                    out.push(HealthField {
                        name: format!("{name}[].{k}"),
                        example: text(v),
                    });
                }
            }
            v => out.push(HealthField {
                name: name.clone(),
                example: text(v),
            }),
        }
    }
    out
}

fn text(v: &serde_json::Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

pub fn get<R: Runtime>(app: &AppHandle<R>) -> Option<Arc<Health>> {
    app.try_state::<Arc<Health>>().map(|h| h.inner().clone())
}

/// At start (from `install`): queues what this start means (only with
/// consent), manages `Health` and sends in the background.
pub fn start<R: Runtime>(app: &AppHandle<R>, setup: HealthSetup) {
    let dir = dir_in(&setup.data_dir);
    let now = setup.clock.now();
    let consent_file = ConsentFile::in_dir(&dir);
    let consent = consent_file.load_or_create(now).unwrap_or_else(|e| {
        tracing::warn!(
            code = e.code(),
            "health consent not saved; reports stay off"
        );
        Consent::first_run(now)
    });
    let channel = Health::channel(app);
    let crash = setup
        .crash
        .unwrap_or_else(|| CrashContext::new(false, channel));
    crash.set_enabled(consent.enabled());
    crash.set_channel(channel);
    match start::on_start(&dir, &consent, &setup.version, channel, now) {
        Ok(s) => tracing::info!(
            session = s.session,
            crashes = s.crashes,
            update_installed = s.update_installed,
            "health start"
        ),
        Err(e) => tracing::warn!(code = e.code(), "health start not recorded"),
    }
    let send = match (setup.service, setup.install_id.and_then(this_install)) {
        (Some(base), Some(install)) => {
            let sender = base
                .parse::<reqwest_app::Url>()
                .map_err(|e| e.to_string())
                .and_then(|url| {
                    Sender::new(url, &format!("ProductivityPro/{}", setup.version))
                        .map_err(|e| e.to_string())
                });
            match sender {
                Ok(s) => Some((s, install)),
                Err(e) => {
                    tracing::warn!(error = %e, "health reports cannot be sent");
                    None
                }
            }
        }
        _ => None,
    };
    let health = Arc::new(Health {
        queue: Queue::in_dir(&dir),
        consent_file,
        consent: Mutex::new(consent),
        dir,
        version: setup.version,
        crash,
        clock: setup.clock,
        send,
        tokens: Mutex::new(Tokens::default()),
        flushing: AtomicBool::new(false),
        again: AtomicBool::new(false),
        ui_crash_queued: AtomicBool::new(false),
    });
    app.manage(health);
    flush_soon(app);
}

/// Sends the queue in the background (after a check, at start, on opt-in).
pub fn flush_soon<R: Runtime>(app: &AppHandle<R>) {
    if let Some(h) = get(app) {
        if h.enabled() && h.send.is_some() {
            tauri::async_runtime::spawn(async move { h.flush().await });
        }
    }
}

/// An update check's answer (`Update::raw_json`): keeps the telemetry
/// tokens it carries (`telemetry_tokens`, by version) for the sender.
pub fn take_tokens<R: Runtime>(app: &AppHandle<R>, channel: Channel, raw: &serde_json::Value) {
    let Some(h) = get(app) else { return };
    let tokens: BTreeMap<String, String> = raw
        .get("telemetry_tokens")
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or_default();
    if !tokens.is_empty() {
        lock(&h.tokens).take_from_offer(channel, &tokens);
    }
}

/// Installing `version` failed (the updater's hook).
pub fn update_failed<R: Runtime>(app: &AppHandle<R>, version: &str) {
    if let Some(h) = get(app) {
        if h.push(EventKind::UpdateFailed, version, Health::channel(app)) {
            flush_soon(app);
        }
    }
}

/// The UI had an uncaught error: one `crash` per run, nothing about it.
pub fn ui_crash<R: Runtime>(app: &AppHandle<R>) -> bool {
    let Some(h) = get(app) else { return false };
    if !h.enabled() || h.ui_crash_queued.swap(true, Ordering::AcqRel) {
        return false;
    }
    let version = h.version.clone();
    let queued = h.push(EventKind::Crash, &version, Health::channel(app));
    if queued {
        flush_soon(app);
    }
    queued
}

/// The settings changed: the panic hook reports the new channel.
pub fn settings_changed<R: Runtime>(app: &AppHandle<R>) {
    if let Some(h) = get(app) {
        h.crash.set_channel(Health::channel(app));
    }
}
