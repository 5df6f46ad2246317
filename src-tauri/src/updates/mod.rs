//! In-app updates (docs/desktop-ipc.md, "Updates"): tauri-plugin-updater
//! against the update service, with the app's own policy on top.
//!
//! - `policy` — pure: the endpoint for a channel, which offers are taken,
//!   retry backoff and the check schedule;
//! - `install_id` — the random id sent as `X-Install-Id`;
//! - `worker` — `Updates`, the state the commands and the loop share:
//!   check, download (verified by the plugin against the built-in key,
//!   then judged again), install (vault closed, sync pushed first);
//! - `pre_install` — pending sync pushed, the vault closed, before install;
//! - `progress` — download speed and event throttling;
//! - `cli` — `--check-update` / `--install-update` for scripts.
//!
//! Must hold: without a public key built in there is no updater at all
//! (phase `unavailable`), never one with an empty key; plain http only
//! to loopback; nothing is installed that the plugin did not verify.

pub mod cli;
pub mod install_id;
pub mod policy;
pub mod pre_install;
pub mod progress;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};

pub use policy::codes;
use policy::ServiceUrl;
pub use worker::Updates;

/// The update service a release build talks to.
pub const DEFAULT_SERVICE: &str = "https://updates.productivitypro.app";
/// Overrides `DEFAULT_SERVICE` at run time (tests, staging, the
/// end-to-end script): https, or http on loopback.
pub const SERVICE_ENV: &str = "PRODUCTIVITYPRO_UPDATE_URL";
/// The updater's public key, base64 of the minisign `.pub` text, built in
/// by build.rs (empty: none).
pub const BUILT_IN_KEY: &str = env!("PRODUCTIVITYPRO_UPDATER_PUBKEY");

/// A service the updater can talk to, with the key it trusts.
#[derive(Debug, Clone)]
pub struct Service {
    pub pubkey: String,
    pub url: ServiceUrl,
}

/// What installing does once the bytes are verified and the vault closed.
#[derive(Clone)]
pub enum InstallStep {
    /// `Update::install` (dpkg/rpm through pkexec, the AppImage in place,
    /// the Windows installer), then the app restarts.
    Package,
    /// Hands the verified bytes over instead (tests: nothing is
    /// installed, the steps before are real).
    Hand(Handover),
}

/// Takes the version and the verified bytes (`InstallStep::Hand`).
pub type Handover = Arc<dyn Fn(&str, &[u8]) -> Result<(), String> + Send + Sync>;

/// How `install` sets up updates.
#[derive(Clone)]
pub struct UpdateConfig {
    /// The service and key, or why updates are unavailable.
    pub service: Result<Service, String>,
    /// Where the install id lives; `None`: the app's data folder.
    pub id_dir: Option<PathBuf>,
    pub install: InstallStep,
    /// How long to wait for pending sync to be pushed before installing.
    pub push_wait: Duration,
    /// Restart into the new version after installing (not for the CLI
    /// flags, whose caller runs what comes next).
    pub restart: bool,
}

impl UpdateConfig {
    /// The release configuration: the built-in key and the service from
    /// `PRODUCTIVITYPRO_UPDATE_URL` or the default.
    pub fn from_build_and_env() -> UpdateConfig {
        let url = std::env::var(SERVICE_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SERVICE.to_string());
        UpdateConfig::new(BUILT_IN_KEY, &url)
    }

    pub fn new(pubkey: &str, url: &str) -> UpdateConfig {
        let service = if pubkey.trim().is_empty() {
            Err("this build has no updater key built in (a development build): update it from a release".to_string())
        } else {
            ServiceUrl::parse(url)
                .map(|url| Service {
                    pubkey: pubkey.trim().to_string(),
                    url,
                })
                .map_err(|e| format!("{SERVICE_ENV}: {e}"))
        };
        UpdateConfig {
            service,
            id_dir: None,
            install: InstallStep::Package,
            push_wait: Duration::from_secs(10),
            restart: true,
        }
    }

    /// No updates at all, saying why.
    pub fn unavailable(why: &str) -> UpdateConfig {
        UpdateConfig {
            service: Err(why.to_string()),
            ..UpdateConfig::new("", DEFAULT_SERVICE)
        }
    }

    /// Writes the plugin's configuration into the app's context (the key,
    /// signed versions required, http only for a loopback service) and
    /// says whether to register the plugin: not without a service, so no
    /// updater ever runs with an empty key.
    pub fn configure<R: Runtime>(&self, ctx: &mut tauri::Context<R>) -> bool {
        let Ok(s) = &self.service else {
            return false;
        };
        ctx.config_mut().plugins.0.insert(
            "updater".into(),
            serde_json::json!({
                "pubkey": s.pubkey,
                "endpoints": [],
                "dangerousInsecureTransportProtocol": s.url.insecure(),
                "requireSignedVersion": true,
            }),
        );
        true
    }
}

/// Registers the updater plugin when `cfg` has a service (after
/// `cfg.configure` wrote its configuration into the context).
pub fn plugin<R: Runtime>() -> tauri::plugin::TauriPlugin<R, tauri_plugin_updater::Config> {
    tauri_plugin_updater::Builder::new().build()
}

/// Manages `Updates` and starts the check loop.
pub fn start<R: Runtime>(app: &AppHandle<R>, cfg: UpdateConfig) {
    let updates = Arc::new(Updates::new(app, cfg));
    app.manage(updates.clone());
    worker::spawn_loop(app.clone(), updates);
}

pub fn updates<R: Runtime>(app: &AppHandle<R>) -> Option<Arc<Updates>> {
    app.try_state::<Arc<Updates>>().map(|u| u.inner().clone())
}

/// The settings changed: the channel shown follows, the loop re-plans.
pub fn settings_changed<R: Runtime>(app: &AppHandle<R>) {
    if let Some(u) = updates(app) {
        u.settings_changed(app);
    }
}
