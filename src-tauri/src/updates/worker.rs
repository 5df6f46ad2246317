//! `Updates`: the updater's state, shared by the commands, the tray, the
//! check loop and the CLI flags. Every change is sent as
//! `update://state` (download progress throttled).
//!
//! One thing at a time: a check, a download or an install; asking for
//! another meanwhile is `update_in_progress`. A download that is verified
//! stays `ready` across later checks offering the same version.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use semver::Version;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_updater::{Update, UpdaterExt};
use tokio::sync::Notify;
use uuid::Uuid;

use super::kept::Kept;
use super::policy::{self, codes, Backoff, Offer, Refusal};
use super::progress::Meter;
use super::{delta, install_id, InstallStep, Service, UpdateConfig};
use crate::error::{IpcError, IpcResult};
use crate::shell::Shell;
use crate::update_dto::{
    UpdateError, UpdateOfferDto, UpdatePhase, UpdateProgress, UpdateState, STATE_EVENT,
};

/// A check or a size probe that takes longer has failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Updates {
    inner: Mutex<Inner>,
    service: Option<Service>,
    install_id: Option<Uuid>,
    /// The last installed artifact (delta updates); `None`: no cache folder.
    kept: Option<Kept>,
    current: Version,
    install: InstallStep,
    push_wait: Duration,
    restart: bool,
    wake: Notify,
}

struct Inner {
    state: UpdateState,
    /// The plugin's offer behind `state.offer`.
    update: Option<Update>,
    /// Verified bytes (`ready`).
    bytes: Option<Arc<Vec<u8>>>,
    /// The patch to try before the full download (`state.offer.delta`).
    delta: Option<delta::Plan>,
    backoff: Backoff,
    last_attempt: Option<DateTime<Utc>>,
    retry_at: Option<DateTime<Utc>>,
    /// `update_later`: this version's notice is put off until restart.
    put_off: Option<String>,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn error(code: &str, message: impl Into<String>) -> UpdateError {
    UpdateError {
        code: code.into(),
        message: message.into(),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Installing a Linux package asks for the administrator password.
pub fn needs_privilege() -> bool {
    use tauri::utils::config::BundleType;
    matches!(
        tauri::utils::platform::bundle_type(),
        Some(BundleType::Deb | BundleType::Rpm)
    )
}

/// What a failed check means for the user.
fn check_error(e: &tauri_plugin_updater::Error) -> UpdateError {
    use tauri_plugin_updater::Error as E;
    let code = match e {
        E::Reqwest(_) => codes::OFFLINE,
        _ => codes::SERVER,
    };
    let message = match e {
        E::ReleaseNotFound => "the update service answered with an error".to_string(),
        other => other.to_string(),
    };
    error(code, message)
}

/// What a failed download (or verification) means.
fn download_error(e: &tauri_plugin_updater::Error) -> UpdateError {
    use tauri_plugin_updater::Error as E;
    let code = match e {
        E::Minisign(_) | E::Base64(_) | E::SignatureUtf8(_) => codes::SIGNATURE_INVALID,
        E::SignedVersionMismatch { .. } | E::MissingSignedVersion => codes::VERSION_MISMATCH,
        E::Reqwest(_) => codes::OFFLINE,
        _ => codes::SERVER,
    };
    let message = match e {
        E::Minisign(m) => format!("the download was refused: its signature does not verify ({m})"),
        other => other.to_string(),
    };
    error(code, message)
}

impl Updates {
    pub fn new<R: Runtime>(app: &AppHandle<R>, cfg: UpdateConfig) -> Updates {
        // reqwest 0.13 is built without a TLS provider of its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let current = app.package_info().version.clone();
        let settings = app
            .try_state::<Arc<Shell>>()
            .map(|s| s.settings())
            .unwrap_or_default();
        let (service, unavailable) = match cfg.service {
            Ok(s) => (Some(s), None),
            Err(why) => (None, Some(error(codes::UNAVAILABLE, why))),
        };
        let install_id = service.as_ref().and_then(|_| {
            let dir = cfg
                .id_dir
                .clone()
                .or_else(|| app.path().app_data_dir().ok())?;
            install_id::load_or_create(&dir, Uuid::new_v4)
        });
        let kept = cfg
            .artifact_dir
            .clone()
            .or_else(|| Some(app.path().app_cache_dir().ok()?.join("updates")))
            .map(Kept::new);
        let state = UpdateState {
            phase: if service.is_some() {
                UpdatePhase::Idle
            } else {
                UpdatePhase::Unavailable
            },
            current: current.to_string(),
            channel: settings.update_channel,
            offer: None,
            progress: None,
            error: unavailable,
            last_checked: None,
            next_retry_at: None,
            needs_privilege: needs_privilege(),
        };
        Updates {
            inner: Mutex::new(Inner {
                state,
                update: None,
                bytes: None,
                delta: None,
                backoff: Backoff::default(),
                last_attempt: None,
                retry_at: None,
                put_off: None,
            }),
            service,
            install_id,
            kept,
            current,
            install: cfg.install,
            push_wait: cfg.push_wait,
            restart: cfg.restart,
            wake: Notify::new(),
        }
    }

    pub fn state(&self) -> UpdateState {
        lock(&self.inner).state.clone()
    }

    pub fn install_id(&self) -> Option<Uuid> {
        self.install_id
    }

    fn set<R: Runtime>(&self, app: &AppHandle<R>, f: impl FnOnce(&mut Inner)) -> UpdateState {
        let (changed, s) = {
            let mut g = lock(&self.inner);
            let before = g.state.clone();
            f(&mut g);
            (g.state != before, g.state.clone())
        };
        if changed {
            send(app, &s);
        }
        s
    }

    fn service(&self) -> IpcResult<&Service> {
        self.service.as_ref().ok_or_else(|| {
            let s = self.state();
            let why = s.error.map(|e| e.message).unwrap_or_default();
            IpcError::new(codes::UNAVAILABLE, why)
        })
    }

    fn busy(&self) -> IpcResult<()> {
        let phase = lock(&self.inner).state.phase;
        match phase {
            UpdatePhase::Checking | UpdatePhase::Downloading | UpdatePhase::Installing => Err(
                IpcError::new(codes::IN_PROGRESS, format!("the updater is {phase:?}")),
            ),
            _ => Ok(()),
        }
    }

    pub fn settings_changed<R: Runtime>(&self, app: &AppHandle<R>) {
        let channel = app
            .try_state::<Arc<Shell>>()
            .map(|s| s.settings().update_channel)
            .unwrap_or_default();
        self.set(app, |g| g.state.channel = channel);
        self.wake.notify_one();
    }

    /// When the loop should check next (`None`: not automatically).
    fn next_check<R: Runtime>(&self, app: &AppHandle<R>) -> Option<DateTime<Utc>> {
        self.service.as_ref()?;
        let automatic = app
            .try_state::<Arc<Shell>>()
            .is_some_and(|s| s.settings().update_check_automatically);
        let g = lock(&self.inner);
        policy::next_check(automatic, g.last_attempt, g.retry_at)
    }

    /// Checks now. Resolves after the check finished, with the new state.
    pub async fn check<R: Runtime>(&self, app: &AppHandle<R>) -> IpcResult<UpdateState> {
        let service = self.service()?.clone();
        {
            let mut g = lock(&self.inner);
            match g.state.phase {
                UpdatePhase::Checking | UpdatePhase::Downloading | UpdatePhase::Installing => {
                    return Err(IpcError::new(
                        codes::IN_PROGRESS,
                        format!("the updater is {:?}", g.state.phase),
                    ))
                }
                _ => {}
            }
            g.state.phase = UpdatePhase::Checking;
            g.state.error = None;
            let s = g.state.clone();
            drop(g);
            send(app, &s);
        }
        let channel = app
            .try_state::<Arc<Shell>>()
            .map(|s| s.settings().update_channel)
            .unwrap_or_else(|| self.state().channel);
        let now = Utc::now();
        let result = self.ask(app, &service, channel.into()).await;
        let state = match result {
            Ok(found) => {
                let probed = match &found {
                    Some((update, offer)) => {
                        Some(self.download_size(&service, update, offer).await)
                    }
                    None => None,
                };
                let plan = found
                    .as_ref()
                    .and_then(|(_, offer)| delta::plan(self.kept.as_ref(), &self.current, offer));
                self.set(app, |g| {
                    g.last_attempt = Some(now);
                    g.state.channel = channel;
                    g.state.last_checked = Some(rfc3339(now));
                    match (found, probed) {
                        (Some((update, offer)), Some((download_size, full_size))) => {
                            g.backoff.succeed();
                            g.retry_at = None;
                            g.state.next_retry_at = None;
                            let same = g
                                .state
                                .offer
                                .as_ref()
                                .is_some_and(|o| o.version == update.version);
                            let kept = same && g.bytes.is_some();
                            // Verified bytes stay; so does how they came.
                            let (download_size, delta) = match (&g.state.offer, &plan) {
                                (Some(o), _) if kept => (o.download_size, o.delta),
                                (_, Some(p)) => (p.patch.size, true),
                                _ => (download_size, false),
                            };
                            if !kept {
                                g.delta = plan;
                            }
                            g.state.offer = Some(UpdateOfferDto {
                                version: update.version.clone(),
                                notes: update.body.clone(),
                                pub_date: update
                                    .raw_json
                                    .get("pub_date")
                                    .and_then(|d| d.as_str())
                                    .map(str::to_string),
                                rollback: offer.rollback,
                                download_size,
                                full_size,
                                delta,
                            });
                            g.state.progress = None;
                            g.state.phase = if kept {
                                UpdatePhase::Ready
                            } else {
                                g.bytes = None;
                                UpdatePhase::Available
                            };
                            g.update = Some(update);
                        }
                        _ => {
                            g.backoff.succeed();
                            g.retry_at = None;
                            g.state.next_retry_at = None;
                            g.state.offer = None;
                            g.state.progress = None;
                            g.update = None;
                            g.bytes = None;
                            g.delta = None;
                            g.state.phase = UpdatePhase::UpToDate;
                        }
                    }
                })
            }
            Err((e, reached)) => self.set(app, |g| {
                g.last_attempt = Some(now);
                g.state.channel = channel;
                if reached {
                    g.state.last_checked = Some(rfc3339(now));
                }
                let at = g.backoff.fail(now);
                g.retry_at = Some(at);
                g.state.next_retry_at = Some(rfc3339(at));
                g.state.offer = None;
                g.state.progress = None;
                g.update = None;
                g.bytes = None;
                g.delta = None;
                g.state.phase = UpdatePhase::Failed;
                g.state.error = Some(e);
            }),
        };
        tracing::info!(
            phase = ?state.phase,
            code = state.error.as_ref().map(|e| e.code.as_str()),
            offered = state.offer.as_ref().map(|o| o.version.as_str()),
            "update check"
        );
        crate::health::flush_soon(app);
        Ok(state)
    }

    /// One request to the service, judged by the policy. `Err` carries
    /// whether the service was reached (it answered, even if wrongly).
    async fn ask<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        service: &Service,
        channel: productivitypro_protocol::Channel,
    ) -> Result<Option<(Update, Offer)>, (UpdateError, bool)> {
        let setup =
            |e: tauri_plugin_updater::Error| (error(codes::UNAVAILABLE, e.to_string()), false);
        let mut b = app
            .updater_builder()
            .endpoints(vec![service.url.endpoint(channel)])
            .map_err(setup)?
            // The policy decides (`policy::judge`): let every other version through.
            .version_comparator(|current, release| release.version != current)
            .timeout(REQUEST_TIMEOUT);
        if service.url.insecure() {
            // Loopback: a proxy from the environment must not see it.
            b = b.no_proxy();
        }
        if let Some(id) = self.install_id {
            b = b
                .header("X-Install-Id", id.hyphenated().to_string())
                .map_err(setup)?;
        }
        let updater = b.build().map_err(setup)?;
        let update = match updater.check().await {
            Ok(None) => return Ok(None),
            Ok(Some(u)) => {
                crate::health::take_tokens(app, channel, &u.raw_json);
                u
            }
            Err(e) => {
                let err = check_error(&e);
                let reached = err.code != codes::OFFLINE;
                return Err((err, reached));
            }
        };
        let offer = Offer::read(&update.version, &update.signature, &update.raw_json)
            .map_err(|r| (refusal(&r, &self.current), true))?;
        match policy::judge(&self.current, &offer) {
            Ok(()) => Ok(Some((update, offer))),
            Err(Refusal::NotNewer) => Ok(None),
            Err(r) => {
                tracing::warn!(offered = %offer.version, code = r.code(), "update offer refused");
                Err((refusal(&r, &self.current), true))
            }
        }
    }

    /// What will be downloaded and the full size: the service's `size`
    /// when it says, else the artifact's `Content-Length` (HEAD); 0 when
    /// neither is known.
    async fn download_size(
        &self,
        service: &Service,
        update: &Update,
        offer: &Offer,
    ) -> (u64, Option<u64>) {
        if let Some(size) = offer.full_size {
            return (size, Some(size));
        }
        let mut b = reqwest_app::Client::builder().timeout(REQUEST_TIMEOUT);
        if service.url.insecure() {
            b = b.no_proxy();
        }
        let size = match b.build() {
            Ok(client) => client
                .head(update.download_url.clone())
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .and_then(|r| {
                    r.headers()
                        .get(reqwest_app::header::CONTENT_LENGTH)?
                        .to_str()
                        .ok()?
                        .parse::<u64>()
                        .ok()
                }),
            Err(_) => None,
        };
        (size.unwrap_or(0), size)
    }

    /// Starts downloading the current offer; returns at once (`downloading`).
    pub fn begin_download<R: Runtime>(
        self: &Arc<Self>,
        app: &AppHandle<R>,
    ) -> IpcResult<UpdateState> {
        let Some(update) = self.prepare_download(app)? else {
            return Ok(self.state());
        };
        let me = self.clone();
        let app2 = app.clone();
        tauri::async_runtime::spawn(async move { me.download(&app2, update).await });
        Ok(self.state())
    }

    /// Moves to `downloading` and hands out the offer to download; `None`
    /// when it is downloaded already (`ready`).
    pub fn prepare_download<R: Runtime>(&self, app: &AppHandle<R>) -> IpcResult<Option<Update>> {
        self.service()?;
        let (update, state) = {
            let mut g = lock(&self.inner);
            match g.state.phase {
                UpdatePhase::Ready => return Ok(None),
                UpdatePhase::Checking | UpdatePhase::Downloading | UpdatePhase::Installing => {
                    return Err(IpcError::new(
                        codes::IN_PROGRESS,
                        format!("the updater is {:?}", g.state.phase),
                    ))
                }
                _ => {}
            }
            let (Some(update), Some(offer)) = (g.update.clone(), g.state.offer.clone()) else {
                return Err(IpcError::new(
                    codes::NO_OFFER,
                    "there is no update to download; check for updates first",
                ));
            };
            g.state.phase = UpdatePhase::Downloading;
            g.state.error = None;
            g.state.next_retry_at = None;
            g.retry_at = None;
            g.state.progress = Some(UpdateProgress {
                received: 0,
                total: (offer.download_size > 0).then_some(offer.download_size),
                bytes_per_second: 0,
            });
            (update, g.state.clone())
        };
        send(app, &state);
        Ok(Some(update))
    }

    /// The channel for a process without settings (the CLI flags).
    pub fn set_channel(&self, channel: crate::update_dto::UpdateChannel) {
        lock(&self.inner).state.channel = channel;
    }

    /// Sends download progress as chunks arrive (throttled, `progress.rs`).
    fn progress_sink<'a, R: Runtime>(
        &'a self,
        app: &'a AppHandle<R>,
    ) -> impl FnMut(usize, Option<u64>) + Send + 'a {
        let mut meter = Meter::new(Instant::now());
        move |n: usize, total: Option<u64>| {
            if meter.add(n as u64, Instant::now()) {
                let (received, rate) = (meter.received(), meter.rate());
                self.set(app, |g| {
                    g.state.progress = Some(UpdateProgress {
                        received,
                        total,
                        bytes_per_second: rate,
                    })
                });
            }
        }
    }

    /// Downloads, verifies (the plugin, against the built-in key and the
    /// signed version) and judges again; ends `ready` or `failed`. With a
    /// delta planned at the check, the patch first (`delta.rs`); any
    /// failure of it falls back to the full download, the offer then
    /// saying so (`delta: false`, the full size) and progress restarting.
    pub async fn download<R: Runtime>(&self, app: &AppHandle<R>, update: Update) -> UpdateState {
        let plan = lock(&self.inner).delta.clone();
        let mut rebuilt = None;
        if let Some(plan) = plan {
            match delta::rebuild(&update, &plan, self.progress_sink(app)).await {
                Ok(bytes) => rebuilt = Some(bytes),
                Err(f) => {
                    tracing::warn!(
                        code = f.code(),
                        "delta update failed; downloading the full artifact"
                    );
                    self.set(app, |g| {
                        g.delta = None;
                        let full = g.state.offer.as_mut().map(|o| {
                            o.delta = false;
                            o.download_size = o.full_size.unwrap_or(0);
                            o.download_size
                        });
                        g.state.progress = Some(UpdateProgress {
                            received: 0,
                            total: full.filter(|n| *n > 0),
                            bytes_per_second: 0,
                        });
                    });
                }
            }
        }
        let result = match rebuilt {
            Some(bytes) => Ok(bytes),
            None => update.download(self.progress_sink(app), || {}).await,
        };
        let now = Utc::now();
        let result = result.map_err(|e| download_error(&e)).and_then(|bytes| {
            // The signature verified: its trusted comment is now the
            // signer's word. The app's own check, not only the plugin's.
            let offer = Offer::read(&update.version, &update.signature, &update.raw_json)
                .map_err(|r| refusal(&r, &self.current))?;
            policy::judge(&self.current, &offer).map_err(|r| refusal(&r, &self.current))?;
            Ok(bytes)
        });
        let state = self.set(app, |g| match result {
            Ok(bytes) => {
                g.bytes = Some(Arc::new(bytes));
                g.backoff.succeed();
                g.state.progress = None;
                g.state.phase = UpdatePhase::Ready;
            }
            Err(e) => {
                let at = g.backoff.fail(now);
                g.retry_at = Some(at);
                g.state.next_retry_at = Some(rfc3339(at));
                g.state.progress = None;
                g.bytes = None;
                g.state.phase = UpdatePhase::Failed;
                g.state.error = Some(e);
            }
        });
        tracing::info!(
            phase = ?state.phase,
            code = state.error.as_ref().map(|e| e.code.as_str()),
            "update download"
        );
        state
    }

    /// `update_later`: the notice for this version is put off until the
    /// next start or a newer offer (the UI hides it; the state stays).
    pub fn later(&self) -> UpdateState {
        let mut g = lock(&self.inner);
        g.put_off = g.state.offer.as_ref().map(|o| o.version.clone());
        tracing::info!(version = g.put_off.as_deref(), "update put off");
        g.state.clone()
    }

    /// Installs what is `ready`: pending sync pushed (bounded wait), the
    /// vault closed cleanly (WAL checkpointed), then the package installed
    /// and the app restarted. On failure: `failed`, `update_install_failed`.
    pub async fn install<R: Runtime>(&self, app: &AppHandle<R>) -> IpcResult<()> {
        self.service()?;
        let (update, bytes) = {
            let mut g = lock(&self.inner);
            let (UpdatePhase::Ready, Some(update), Some(bytes)) =
                (g.state.phase, g.update.clone(), g.bytes.clone())
            else {
                return Err(IpcError::new(
                    codes::NOT_READY,
                    format!(
                        "nothing downloaded and verified to install (the updater is {:?})",
                        g.state.phase
                    ),
                ));
            };
            g.state.phase = UpdatePhase::Installing;
            g.state.error = None;
            let s = g.state.clone();
            drop(g);
            send(app, &s);
            (update, bytes)
        };
        let app2 = app.clone();
        let wait = self.push_wait;
        let step = self.install.clone();
        let version = update.version.clone();
        let kept = self.kept.clone();
        let current = self.current.to_string();
        let result = tauri::async_runtime::spawn_blocking(move || {
            super::pre_install::run(&app2, wait);
            keep(kept.as_ref(), &update.version, &current, &bytes);
            let installed = match step {
                InstallStep::Package => update.install(bytes.as_slice()).map_err(|e| {
                    let e = download_error(&e);
                    if e.code == codes::SERVER || e.code == codes::OFFLINE {
                        error(codes::INSTALL_FAILED, e.message)
                    } else {
                        e
                    }
                }),
                InstallStep::Hand(f) => f(&update.version, bytes.as_slice())
                    .map_err(|m| error(codes::INSTALL_FAILED, m)),
            };
            if installed.is_ok() {
                if let Some(k) = &kept {
                    let _ = k.prune(&update.version);
                }
            }
            installed
        })
        .await
        .map_err(|e| error(codes::INSTALL_FAILED, e.to_string()))
        .and_then(|r| r);
        match result {
            Ok(()) => {
                tracing::info!(%version, "update installed");
                if self.restart && matches!(self.install, InstallStep::Package) {
                    app.restart();
                }
                Ok(())
            }
            Err(e) => {
                tracing::warn!(code = %e.code, "update install failed");
                crate::health::update_failed(app, &version);
                let now = Utc::now();
                self.set(app, |g| {
                    let at = g.backoff.fail(now);
                    g.retry_at = Some(at);
                    g.state.next_retry_at = Some(rfc3339(at));
                    g.state.phase = UpdatePhase::Failed;
                    g.state.error = Some(e.clone());
                });
                Err(IpcError::new(e.code, e.message))
            }
        }
    }

    /// Waits until the loop should look again.
    async fn sleep_until(&self, due: Option<DateTime<Utc>>) {
        let wait = match due {
            None => Duration::from_secs(24 * 3600),
            Some(t) => (t - Utc::now()).to_std().unwrap_or(Duration::ZERO),
        };
        tokio::select! {
            _ = tokio::time::sleep(wait.min(Duration::from_secs(3600))) => {}
            _ = self.wake.notified() => {}
        }
    }
}

/// Keeps the verified artifact for the next delta update. Failing to is
/// no reason not to install: the next update is then a full download.
/// Older kept files than the running version's go now (the running one
/// stays until the install succeeded).
fn keep(kept: Option<&Kept>, version: &str, current: &str, bytes: &[u8]) {
    let Some(k) = kept else { return };
    if let Err(e) = k.keep(version, bytes) {
        tracing::warn!(
            code = "update_kept_write_failed",
            kind = ?e.kind(),
            "the installed artifact could not be kept; the next update downloads in full"
        );
        return;
    }
    let _ = k.prune_except(&[version, current]);
}

fn refusal(r: &Refusal, current: &Version) -> UpdateError {
    error(r.code().unwrap_or(codes::SERVER), r.message(current))
}

fn send<R: Runtime>(app: &AppHandle<R>, s: &UpdateState) {
    if let Err(e) = app.emit(STATE_EVENT, s.clone()) {
        tracing::warn!(error = %e, "update state not sent");
    }
}

/// Checks at start, every `CHECK_EVERY`, and at the retry time after a
/// failure, while automatic checks are on.
pub fn spawn_loop<R: Runtime>(app: AppHandle<R>, updates: Arc<Updates>) {
    if updates.service.is_none() {
        return;
    }
    tauri::async_runtime::spawn(async move {
        loop {
            let due = updates.next_check(&app);
            if due.is_some_and(|t| t <= Utc::now()) {
                if updates.busy().is_ok() {
                    let _ = updates.check(&app).await;
                } else {
                    // Downloading or installing: look again shortly.
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                continue;
            }
            updates.sleep_until(due).await;
        }
    });
}
