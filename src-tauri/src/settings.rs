//! The app's settings: JSON in the app config folder. They hold no user
//! content (no titles, names or dates), so they are not encrypted.
//!
//! A settings file that cannot be read is replaced by the defaults (and
//! the old file kept aside), so a bad file never keeps the app from
//! starting; a value out of range in `settings_set` is refused whole.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{io_error, IpcError, IpcResult};
use crate::update_dto::UpdateChannel;

pub const FILE_NAME: &str = "settings.json";
/// A week: a longer lead is a typo.
pub const MAX_LEAD_MINUTES: u32 = 7 * 24 * 60;
/// A day: a longer idle lock is "never", which is `null`.
pub const MAX_LOCK_MINUTES: u32 = 24 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "Theme.ts")]
pub enum Theme {
    Light,
    Dark,
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "WeekStart.ts")]
pub enum WeekStart {
    Monday,
    Sunday,
    Saturday,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "TimeFormat.ts")]
pub enum TimeFormat {
    #[serde(rename = "12h")]
    H12,
    #[serde(rename = "24h")]
    H24,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "DateFormat.ts")]
pub enum DateFormat {
    Dmy,
    Mdy,
    Ymd,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "Settings.ts")]
pub struct Settings {
    pub theme: Theme,
    pub week_start: WeekStart,
    pub time_format: TimeFormat,
    pub date_format: DateFormat,
    /// Remind this many minutes before a timed task is due (0: only at
    /// the due time).
    pub reminder_lead_minutes: u32,
    pub reminders_enabled: bool,
    /// A global shortcut in Tauri's accelerator syntax
    /// ("CommandOrControl+Shift+Space"); null: none.
    pub quick_add_shortcut: Option<String>,
    pub autostart: bool,
    /// Lock after this many idle minutes; null: never.
    pub lock_after_minutes: Option<u32>,
    /// Closing the window keeps the app (and its reminders) in the tray.
    pub close_to_tray: bool,
    /// Which releases updates come from (default `stable`).
    // `default`: settings files from before updates still load.
    #[serde(default)]
    pub update_channel: UpdateChannel,
    /// Check for updates at start and every few hours (default true).
    #[serde(default = "yes")]
    pub update_check_automatically: bool,
}

fn yes() -> bool {
    true
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            theme: Theme::System,
            week_start: WeekStart::Monday,
            time_format: TimeFormat::H24,
            date_format: DateFormat::Dmy,
            reminder_lead_minutes: 0,
            reminders_enabled: true,
            quick_add_shortcut: Some("CommandOrControl+Shift+Space".into()),
            autostart: false,
            // Reminders need the vault unlocked: locking when idle is the
            // user's choice, not the default.
            lock_after_minutes: None,
            close_to_tray: true,
            update_channel: UpdateChannel::Stable,
            update_check_automatically: true,
        }
    }
}

impl Settings {
    /// Refuses values out of range; the shortcut is checked by the shell
    /// when it registers it.
    pub fn validate(&self) -> IpcResult<()> {
        if self.reminder_lead_minutes > MAX_LEAD_MINUTES {
            return Err(IpcError::invalid(format!(
                "a reminder lead time is 0 to {MAX_LEAD_MINUTES} minutes, not {}",
                self.reminder_lead_minutes
            )));
        }
        if let Some(m) = self.lock_after_minutes {
            if !(1..=MAX_LOCK_MINUTES).contains(&m) {
                return Err(IpcError::invalid(format!(
                    "the idle lock is 1 to {MAX_LOCK_MINUTES} minutes (or never), not {m}"
                )));
            }
        }
        if let Some(s) = &self.quick_add_shortcut {
            if s.trim().is_empty() || s.len() > 64 {
                return Err(IpcError::invalid(
                    "a shortcut is a key combination such as CommandOrControl+Shift+Space",
                ));
            }
        }
        Ok(())
    }
}

/// Where the settings live and how they are written.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    path: PathBuf,
}

impl SettingsFile {
    pub fn in_dir(dir: &Path) -> Self {
        SettingsFile {
            path: dir.join(FILE_NAME),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored settings, or the defaults when there are none. A file
    /// that does not parse is moved aside (`settings.json.bad`) and the
    /// defaults are used; the caller is told so it can say it.
    pub fn load(&self) -> (Settings, Option<IpcError>) {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Settings::default(), None)
            }
            Err(e) => {
                return (
                    Settings::default(),
                    Some(io_error("reading", &self.path, e)),
                )
            }
        };
        match serde_json::from_str::<Settings>(&text) {
            Ok(s) if s.validate().is_ok() => (s, None),
            other => {
                let detail = match other {
                    Err(e) => e.to_string(),
                    Ok(s) => s.validate().err().map(|e| e.message).unwrap_or_default(),
                };
                let aside = self.path.with_extension("json.bad");
                let _ = std::fs::rename(&self.path, &aside);
                (
                    Settings::default(),
                    Some(IpcError::new(
                        "settings_reset",
                        format!(
                            "the settings file was unreadable ({detail}); defaults are in use and the old file is {}",
                            aside.display()
                        ),
                    )),
                )
            }
        }
    }

    /// Writes atomically (temporary file, fsync, rename).
    pub fn save(&self, s: &Settings) -> IpcResult<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| io_error("creating", dir, e))?;
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(s).map_err(|e| IpcError::internal(e.to_string()))?;
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| io_error("writing", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_out_of_range_values() {
        let dir = tempfile::tempdir().unwrap();
        let f = SettingsFile::in_dir(&dir.path().join("nested"));
        assert_eq!(f.load(), (Settings::default(), None));
        let s = Settings {
            theme: Theme::Dark,
            time_format: TimeFormat::H12,
            reminder_lead_minutes: 15,
            lock_after_minutes: None,
            quick_add_shortcut: None,
            ..Settings::default()
        };
        f.save(&s).unwrap();
        assert_eq!(f.load(), (s.clone(), None));
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert!(text.contains("\"timeFormat\": \"12h\""), "{text}");

        for bad in [
            Settings {
                reminder_lead_minutes: MAX_LEAD_MINUTES + 1,
                ..s.clone()
            },
            Settings {
                lock_after_minutes: Some(0),
                ..s.clone()
            },
            Settings {
                quick_add_shortcut: Some("  ".into()),
                ..s.clone()
            },
        ] {
            assert_eq!(bad.validate().unwrap_err().code, "invalid_argument");
        }
    }

    #[test]
    fn an_unreadable_file_is_set_aside_for_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = SettingsFile::in_dir(dir.path());
        std::fs::write(f.path(), b"{\"theme\": \"neon\"}").unwrap();
        let (s, notice) = f.load();
        assert_eq!(s, Settings::default());
        assert_eq!(notice.unwrap().code, "settings_reset");
        assert!(dir.path().join("settings.json.bad").exists());
        assert!(!f.path().exists());
    }

    /// Settings files written before in-app updates have neither
    /// `updateChannel` nor `updateCheckAutomatically`: they must load as
    /// they are (not be set aside as unreadable), with the defaults.
    #[test]
    fn a_settings_file_from_before_updates_loads_with_update_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = SettingsFile::in_dir(dir.path());
        std::fs::write(
            f.path(),
            br#"{
  "theme": "dark",
  "weekStart": "sunday",
  "timeFormat": "12h",
  "dateFormat": "mdy",
  "reminderLeadMinutes": 10,
  "remindersEnabled": true,
  "quickAddShortcut": null,
  "autostart": false,
  "lockAfterMinutes": 30,
  "closeToTray": false
}"#,
        )
        .unwrap();
        let (s, notice) = f.load();
        assert_eq!(notice, None);
        assert_eq!(s.theme, Theme::Dark);
        assert_eq!(s.lock_after_minutes, Some(30));
        assert_eq!(s.update_channel, UpdateChannel::Stable);
        assert!(s.update_check_automatically);
        assert!(f.path().exists() && !dir.path().join("settings.json.bad").exists());

        let s = Settings {
            update_channel: UpdateChannel::Canary,
            update_check_automatically: false,
            ..s
        };
        f.save(&s).unwrap();
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert!(text.contains("\"updateChannel\": \"canary\""), "{text}");
        assert!(
            text.contains("\"updateCheckAutomatically\": false"),
            "{text}"
        );
        assert_eq!(f.load(), (s, None));
    }
}
