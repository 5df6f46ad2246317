//! `--check-update` and `--install-update`: the updater without a window,
//! for scripts (the end-to-end test drives an installed app with them
//! instead of clicking and sleeping). Each prints one JSON line on stdout,
//! last (installing a Linux package runs dpkg/rpm, whose own output goes
//! to the same stdout before it):
//!
//! `{"result":"available","current":"1.0.0","channel":"canary","version":"1.1.0","rollback":false,"delta":true,"code":null,"message":null}`
//!
//! `result` is `upToDate`, `available`, `installed`, `failed` or
//! `unavailable`; `code` is the updater's error code when it failed.
//! Exit status: `--check-update` 0 when the check reached a verdict
//! (`upToDate`/`available`), 1 otherwise; `--install-update` 0 when the
//! update was installed, 2 when there was nothing to install, 1 on any
//! failure. The channel is the settings' unless `--update-channel=NAME`.

use serde::Serialize;
use tauri::{AppHandle, Runtime};

use super::{UpdateConfig, Updates};
use crate::settings::SettingsFile;
use crate::update_dto::{UpdateChannel, UpdatePhase, UpdateState};

pub const CHECK_ARG: &str = "--check-update";
pub const INSTALL_ARG: &str = "--install-update";
pub const CHANNEL_ARG: &str = "--update-channel=";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Check,
    Install,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub mode: Mode,
    pub channel: Option<UpdateChannel>,
}

/// The flags, if any (`Err`: a bad channel name).
pub fn requested<I: IntoIterator<Item = S>, S: AsRef<str>>(
    args: I,
) -> Option<Result<Request, String>> {
    let mut mode = None;
    let mut channel = None;
    for a in args {
        let a = a.as_ref();
        if a == CHECK_ARG {
            mode = mode.or(Some(Mode::Check));
        } else if a == INSTALL_ARG {
            mode = Some(Mode::Install);
        } else if let Some(c) = a.strip_prefix(CHANNEL_ARG) {
            channel = Some(match c {
                "stable" => Ok(UpdateChannel::Stable),
                "beta" => Ok(UpdateChannel::Beta),
                "canary" => Ok(UpdateChannel::Canary),
                other => Err(format!(
                    "unknown update channel {other:?} (stable, beta or canary)"
                )),
            });
        }
    }
    let mode = mode?;
    Some(match channel.transpose() {
        Ok(channel) => Ok(Request { mode, channel }),
        Err(e) => Err(e),
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub result: &'static str,
    pub current: String,
    pub channel: UpdateChannel,
    pub version: Option<String>,
    pub rollback: Option<bool>,
    /// The offer came (or is to come) as a patch rebuilt from the kept
    /// artifact; false after a fallback to the full download.
    pub delta: Option<bool>,
    pub code: Option<String>,
    pub message: Option<String>,
}

impl Line {
    fn of(s: &UpdateState, result: &'static str) -> Line {
        Line {
            result,
            current: s.current.clone(),
            channel: s.channel,
            version: s.offer.as_ref().map(|o| o.version.clone()),
            rollback: s.offer.as_ref().map(|o| o.rollback),
            delta: s.offer.as_ref().map(|o| o.delta),
            code: s.error.as_ref().map(|e| e.code.clone()),
            message: s.error.as_ref().map(|e| e.message.clone()),
        }
    }

    fn failed(s: &UpdateState, code: &str, message: String) -> Line {
        Line {
            code: Some(code.to_string()),
            message: Some(message),
            ..Line::of(s, "failed")
        }
    }
}

fn verdict(s: &UpdateState) -> Line {
    match s.phase {
        UpdatePhase::UpToDate => Line::of(s, "upToDate"),
        UpdatePhase::Available | UpdatePhase::Ready => Line::of(s, "available"),
        UpdatePhase::Unavailable => Line::of(s, "unavailable"),
        _ => Line::of(s, "failed"),
    }
}

/// Runs the request on an app without windows; returns the line and the
/// exit status.
pub async fn run_on<R: Runtime>(
    app: &AppHandle<R>,
    updates: &Updates,
    req: &Request,
) -> (Line, i32) {
    let state = match updates.check(app).await {
        Ok(s) => s,
        Err(e) => {
            let s = updates.state();
            return (Line::failed(&s, &e.code, e.message), 1);
        }
    };
    let line = verdict(&state);
    let ok = matches!(line.result, "upToDate" | "available");
    match req.mode {
        Mode::Check => (line, if ok { 0 } else { 1 }),
        Mode::Install if line.result == "upToDate" => (line, 2),
        Mode::Install if !ok => (line, 1),
        Mode::Install => {
            match updates.prepare_download(app) {
                Ok(Some(update)) => {
                    let s = updates.download(app, update).await;
                    if s.phase != UpdatePhase::Ready {
                        return (verdict(&s), 1);
                    }
                }
                Ok(None) => {}
                Err(e) => return (Line::failed(&updates.state(), &e.code, e.message), 1),
            }
            match updates.install(app).await {
                Ok(()) => (Line::of(&updates.state(), "installed"), 0),
                Err(e) => (Line::failed(&updates.state(), &e.code, e.message), 1),
            }
        }
    }
}

/// `productivitypro --check-update` / `--install-update`: builds the app
/// without windows, runs the request, prints the line, returns the status.
pub fn main(req: Result<Request, String>) -> i32 {
    let req = match req {
        Ok(r) => r,
        Err(e) => {
            eprintln!("productivitypro: {e}");
            return 1;
        }
    };
    let mut cfg = UpdateConfig::from_build_and_env();
    cfg.restart = false;
    if let Err(why) = &cfg.service {
        // No updater in this build: say so without starting anything
        // (no display needed, nothing written).
        let line = Line {
            result: "unavailable",
            current: crate::context::<tauri::Wry>()
                .package_info()
                .version
                .to_string(),
            channel: req.channel.unwrap_or_default(),
            version: None,
            rollback: None,
            delta: None,
            code: Some(super::codes::UNAVAILABLE.to_string()),
            message: Some(why.clone()),
        };
        print_line(&line);
        return 1;
    }
    let mut ctx = crate::context();
    ctx.config_mut().app.windows.clear();
    let mut builder = tauri::Builder::default();
    if cfg.configure(&mut ctx) {
        builder = builder.plugin(super::plugin());
    }
    let app = match builder.build(ctx) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("productivitypro: cannot start: {e}");
            return 1;
        }
    };
    let handle = app.handle().clone();
    let updates = Updates::new(&handle, cfg);
    let channel = req.channel.unwrap_or_else(|| {
        use tauri::Manager;
        handle
            .path()
            .app_config_dir()
            .map(|d| SettingsFile::in_dir(&d).load().0.update_channel)
            .unwrap_or_default()
    });
    updates.set_channel(channel);
    let (line, status) = tauri::async_runtime::block_on(run_on(&handle, &updates, &req));
    print_line(&line);
    status
}

fn print_line(line: &Line) {
    match serde_json::to_string(line) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("productivitypro: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_channel() {
        assert_eq!(requested(["--quick-add"]), None);
        assert_eq!(
            requested([CHECK_ARG]),
            Some(Ok(Request {
                mode: Mode::Check,
                channel: None
            }))
        );
        assert_eq!(
            requested(["--update-channel=canary", INSTALL_ARG, CHECK_ARG]),
            Some(Ok(Request {
                mode: Mode::Install,
                channel: Some(UpdateChannel::Canary)
            }))
        );
        assert!(matches!(
            requested([CHECK_ARG, "--update-channel=nightly"]),
            Some(Err(_))
        ));
        // A channel alone asks for nothing.
        assert_eq!(requested(["--update-channel=beta"]), None);
    }
}
