//! ProductivityPro's desktop shell: thin Tauri commands over
//! `productivitypro-core` (docs/desktop-ipc.md is the contract with the
//! UI), background loops (changes from `pp`, idle lock, reminders,
//! backups) and the desktop integrations (tray, global shortcut,
//! autostart, deep links, single instance, window state).
//!
//! `install` sets up everything but the OS integrations, so the commands
//! and loops run the same in the app and in headless tests
//! (`tauri::test::mock_builder`).

pub mod args;
pub mod background;
pub mod bindings;
pub mod commands;
pub mod desktop;
pub mod dto;
pub mod emit;
pub mod error;
pub mod files;
pub mod health;
pub mod health_dto;
pub mod logging;
pub mod memory;
pub mod reminders;
pub mod report;
pub mod settings;
pub mod shell;
pub mod sync_dto;
pub mod sync_worker;
pub mod update_dto;
pub mod updates;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use productivitypro_core::profile::EnvVars;
use productivitypro_core::{Clock, SystemClock};
use tauri::{App, AppHandle, Manager, Runtime, WindowEvent};

use background::Ticks;
use desktop::launch::{self, Launch};
use reminders::NoticeSink;
use shell::{Shell, ShellConfig};

pub use commands::handler;

/// The app's compiled-in configuration (tauri.conf.json, capabilities,
/// assets in release builds).
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// Where reminders go.
pub enum Notices {
    /// The OS notification server (the notification plugin must be
    /// registered).
    Os,
    To(Arc<dyn NoticeSink>),
}

pub struct Options {
    pub cfg: ShellConfig,
    pub ticks: Ticks,
    pub notices: Notices,
    pub launch: Launch,
    /// In-app updates; the plugin must be registered when it has a
    /// service (`UpdateConfig::configure`).
    pub updates: updates::UpdateConfig,
    /// The panic hook's context when `run()` installed one before the
    /// builder (`health::install_panic_hook`); `None`: no hook.
    pub crash: Option<Arc<productivitypro_health::crash::CrashContext>>,
}

/// Manages the `Shell` and starts the background loops. Call from the
/// builder's `setup`, with `handler()` as the invoke handler.
pub fn install<R: Runtime>(app: &mut App<R>, opts: Options) -> Result<Arc<Shell>, String> {
    let shell = Arc::new(Shell::new(opts.cfg));
    shell.request_launch(|l| {
        l.quick_add = opts.launch.quick_add;
        l.deep_link = opts.launch.link.as_deref().and_then(|link| {
            launch::link_text(link)
                .inspect_err(|e| {
                    tracing::info!(code = %e.code, "launch link refused");
                    shell.add_notice(e.clone());
                })
                .ok()
        });
    });
    app.manage(shell.clone());
    let sink: Arc<dyn NoticeSink> = match opts.notices {
        Notices::Os => {
            reminders::register_actions(app.handle()).map_err(|e| e.to_string())?;
            Arc::new(reminders::OsNotifications(app.handle().clone()))
        }
        Notices::To(s) => s,
    };
    background::start(app.handle(), opts.ticks, sink);
    sync_worker::start(app.handle());
    let service = opts
        .updates
        .service
        .as_ref()
        .ok()
        .map(|s| s.url.as_str().to_string());
    updates::start(app.handle(), opts.updates);
    health::start(
        app.handle(),
        health::HealthSetup {
            data_dir: shell.cfg.data_dir.clone(),
            version: app.package_info().version.to_string(),
            clock: shell.cfg.clock.clone(),
            crash: opts.crash,
            service,
            install_id: updates::updates(app.handle()).and_then(|u| u.install_id()),
        },
    );
    Ok(shell)
}

/// Whether the tray exists (closing to the tray needs one to come back).
struct TrayShown(AtomicBool);

/// A second launch (the first instance gets its arguments): focus the
/// window, and open quick add for `--quick-add`. Links are the deep-link
/// plugin's (`on_open_url`).
fn second_launch<R: Runtime>(app: &AppHandle<R>, argv: Vec<String>) {
    let l = launch::parse_args(argv.iter().skip(1));
    tracing::info!(
        quick_add = l.quick_add,
        link = l.link.is_some(),
        "second launch"
    );
    desktop::window::show_main(app);
    if l.quick_add {
        emit::quick_add(app, None);
    }
}

fn open_link<R: Runtime>(app: &AppHandle<R>, url: &str) {
    desktop::window::show_main(app);
    match launch::link_text(url) {
        Ok(text) => emit::quick_add(app, Some(text)),
        Err(e) => emit::error(app, e),
    }
}

/// OS integrations, each reported (not fatal) when the platform lacks it.
fn desktop_setup<R: Runtime>(app: &mut App<R>, shell: &Shell, launch: &Launch) {
    let handle = app.handle().clone();
    let tray = desktop::tray::create(&handle);
    if let Err(e) = &tray {
        tracing::warn!(error = %e, "no tray icon");
    }
    app.manage(TrayShown(AtomicBool::new(tray.is_ok())));

    let settings = shell.settings();
    let shortcut = desktop::shortcut::init(&handle).and_then(|()| {
        desktop::shortcut::apply(&handle, None, settings.quick_add_shortcut.as_deref())
    });
    if let Err(e) = shortcut {
        tracing::info!(code = %e.code, "global shortcut off");
        if settings.quick_add_shortcut.is_some() {
            shell.add_notice(e);
        }
    }
    if let Err(e) = desktop::autostart::sync(&handle, settings.autostart) {
        shell.add_notice(e);
    }

    use tauri_plugin_deep_link::DeepLinkExt;
    let links = handle.clone();
    handle.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            open_link(&links, url.as_str());
        }
    });
    // Not installed from the package (make run): register the link
    // handler for this binary so productivitypro:// links reach it.
    let installed = std::env::current_exe()
        .map(|p| p.starts_with("/usr") || p.starts_with("/opt"))
        .unwrap_or(false);
    if cfg!(target_os = "linux") && !installed {
        if let Err(e) = handle.deep_link().register_all() {
            tracing::info!(error = %e, "link handler not registered");
        }
    }

    if !launch.autostarted {
        desktop::window::show_main(&handle);
    }
}

fn on_window_event<R: Runtime>(window: &tauri::Window<R>, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        let app = window.app_handle();
        let to_tray = app
            .try_state::<Arc<Shell>>()
            .is_some_and(|s| s.settings().close_to_tray)
            && app
                .try_state::<TrayShown>()
                .is_some_and(|t| t.0.load(Ordering::Acquire));
        if to_tray {
            api.prevent_close();
            let _ = window.hide();
        }
    }
}

/// SIGTERM (logout, `kill`) and SIGINT (Ctrl-C under `make run`) end the
/// app the normal way, so the window state is saved and the vault closed.
fn exit_on_signals<R: Runtime>(app: &AppHandle<R>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::info!("exit on signal");
            app.exit(0);
        });
    }
    #[cfg(not(unix))]
    let _ = app;
}

/// The configuration from the environment: `PRODUCTIVITYPRO_DATA_DIR`,
/// `PRODUCTIVITYPRO_TZ`, `PRODUCTIVITYPRO_KEYRING_SERVICE`, as for `pp`.
fn config_from_env<R: Runtime>(app: &App<R>) -> Result<ShellConfig, String> {
    let vars = EnvVars::from_process();
    let data_dir = vars.data_dir(None).map_err(|e| e.to_string())?;
    let tz = vars.local_tz(None).map_err(|e| e.to_string())?;
    let config_dir = app.path().app_config_dir().map_err(|e| e.to_string())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let env = Arc::new(move || vars.system_env(tz));
    Ok(ShellConfig {
        data_dir,
        config_dir,
        env,
        clock,
        tz,
    })
}

/// The desktop app.
pub fn run() {
    if launch::version_requested(std::env::args().skip(1)) {
        let ctx = context::<tauri::Wry>();
        println!("{}", launch::version_line(&ctx.package_info().version));
        return;
    }
    if let Some(req) = updates::cli::requested(std::env::args().skip(1)) {
        std::process::exit(updates::cli::main(req));
    }
    let launch = launch::parse_args(std::env::args().skip(1));
    let setup_launch = launch.clone();
    let update_cfg = updates::UpdateConfig::from_build_and_env();
    let mut ctx = context();
    // First, so a panic anywhere in the start is a crash (when opted in).
    let crash = health::install_panic_hook(&ctx.package_info().version.to_string());
    let with_updater = update_cfg.configure(&mut ctx);
    let mut builder = tauri::Builder::default()
        // First: a second launch must reach this instance before anything
        // else starts.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            second_launch(app, argv)
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(
            tauri_plugin_window_state::Builder::new()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::all()
                        - tauri_plugin_window_state::StateFlags::VISIBLE,
                )
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(desktop::autostart::plugin());
    if with_updater {
        builder = builder.plugin(updates::plugin());
    }
    let app = builder
        .invoke_handler(handler())
        .on_window_event(on_window_event)
        .setup(move |app| {
            if let Ok(dir) = app.path().app_log_dir() {
                if let Err(e) = logging::init(&dir) {
                    eprintln!("productivitypro: no log file: {e}");
                }
            }
            let cfg = config_from_env(app)?;
            tracing::info!(
                version = %app.package_info().version,
                quick_add = setup_launch.quick_add,
                link = setup_launch.link.is_some(),
                autostarted = setup_launch.autostarted,
                "starting"
            );
            let shell = install(
                app,
                Options {
                    cfg,
                    ticks: Ticks::default(),
                    notices: Notices::Os,
                    launch: setup_launch.clone(),
                    updates: update_cfg.clone(),
                    crash: crash.clone(),
                },
            )?;
            desktop_setup(app, &shell, &setup_launch);
            exit_on_signals(app.handle());
            Ok(())
        })
        .build(ctx)
        .unwrap_or_else(|e| {
            eprintln!("productivitypro: cannot start: {e}");
            std::process::exit(1);
        });
    app.run(|_app, event| {
        if let tauri::RunEvent::Exit = event {
            tracing::info!("exit");
        }
    });
}
