//! The app around the vault: its status at start, activity for the idle
//! lock, and settings — each of which takes effect when set.

use std::sync::Arc;

use productivitypro_core::Vault;
use tauri::{AppHandle, Runtime, State};

use crate::args::{Args, SettingsSetArgs};
use crate::dto::{AppStatus, SlotInfo, VaultState};
use crate::error::IpcResult;
use crate::settings::Settings;
use crate::shell::{blocking, Shell};
use crate::{background, desktop};

#[tauri::command]
pub async fn app_status<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
) -> IpcResult<AppStatus> {
    let shell = shell.inner().clone();
    let version = app.package_info().version.to_string();
    blocking(move || {
        let dir = &shell.cfg.data_dir;
        let vault = if shell.is_unlocked() {
            VaultState::Unlocked
        } else if shell.vault_exists() {
            VaultState::Locked
        } else {
            VaultState::Missing
        };
        let slots = match vault {
            VaultState::Missing => None,
            VaultState::Unlocked => shell.with_vault(|v| Ok(v.slots()?)).ok(),
            VaultState::Locked => Vault::slots_in(dir).ok(),
        }
        .map(|s| s.into_iter().map(SlotInfo::from).collect());
        Ok(AppStatus {
            vault,
            vault_dir: dir.display().to_string(),
            version,
            slots,
            launch: shell.take_launch(),
            notices: shell.take_notices(),
        })
    })
    .await
}

/// The user is active (the UI sends this debounced): the idle lock
/// starts counting again.
#[tauri::command]
pub fn activity(shell: State<'_, Arc<Shell>>) {
    shell.touch();
}

/// Set to `1`, the shell prints start-up marks on stdout for the desktop
/// benchmark (`bench/desktop`); otherwise the marks do nothing.
pub const BENCH_MARKS_ENV: &str = "PRODUCTIVITYPRO_BENCH_MARKS";
/// What a mark line starts with; the rest is a fixed word, never content.
pub const BENCH_MARK_PREFIX: &str = "productivitypro-bench-mark";

/// The UI painted the task list (its rows or its empty state) for the
/// first time since the page loaded. Only a benchmark run
/// (`PRODUCTIVITYPRO_BENCH_MARKS=1`) sees it: one line on stdout, which
/// the harness timestamps against the moment it spawned the process.
#[tauri::command]
pub fn bench_first_paint() {
    if std::env::var_os(BENCH_MARKS_ENV).is_some_and(|v| v == "1") {
        use std::io::Write;
        // No stdout (started from a desktop menu) is not an error here.
        let _ = writeln!(std::io::stdout().lock(), "{BENCH_MARK_PREFIX} first-paint");
    }
}

#[tauri::command]
pub fn settings_get(shell: State<'_, Arc<Shell>>) -> Settings {
    shell.settings()
}

/// Validates, applies each changed setting to the system (global shortcut,
/// autostart entry), then stores them. If the platform refuses a setting
/// nothing is stored and what was applied is put back.
#[tauri::command]
pub async fn settings_set<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<SettingsSetArgs>,
) -> IpcResult<Settings> {
    let settings = args.0.settings;
    settings.validate()?;
    let shell = shell.inner().clone();
    let old = shell.settings();
    let app2 = app.clone();
    let new = settings.clone();
    blocking(move || {
        if new.quick_add_shortcut != old.quick_add_shortcut {
            desktop::shortcut::apply(
                &app2,
                old.quick_add_shortcut.as_deref(),
                new.quick_add_shortcut.as_deref(),
            )?;
        }
        if new.autostart != old.autostart {
            if let Err(e) = desktop::autostart::apply(&app2, new.autostart) {
                if new.quick_add_shortcut != old.quick_add_shortcut {
                    let _ = desktop::shortcut::apply(
                        &app2,
                        new.quick_add_shortcut.as_deref(),
                        old.quick_add_shortcut.as_deref(),
                    );
                }
                return Err(e);
            }
        }
        shell.store_settings(new.clone())?;
        tracing::info!(
            lead = new.reminder_lead_minutes,
            reminders = new.reminders_enabled,
            autostart = new.autostart,
            lock_after = ?new.lock_after_minutes,
            shortcut = new.quick_add_shortcut.is_some(),
            "settings stored"
        );
        Ok(new)
    })
    .await?;
    // Lead time and on/off take effect at the next check, which is now.
    background::rearm_reminders(&app);
    // A new channel or automatic checks on/off: the updater's state says
    // so and its schedule follows.
    crate::updates::settings_changed(&app);
    crate::health::settings_changed(&app);
    Ok(settings)
}
