//! Where a profile's vault lives and which time zone and keyring service
//! it is used with, from the environment. Shared by every front end (`pp`
//! and the desktop app) so both open the same vault with the same keyring
//! entries.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::env::Env;

/// Overrides the vault folder.
pub const DATA_DIR_ENV: &str = "PRODUCTIVITYPRO_DATA_DIR";
/// Overrides the keyring service name (tests and side-by-side installs).
pub const KEYRING_SERVICE_ENV: &str = "PRODUCTIVITYPRO_KEYRING_SERVICE";
/// Overrides the time zone dates are read and shown in.
pub const TZ_ENV: &str = "PRODUCTIVITYPRO_TZ";
/// The folder name under the OS data folder.
pub const APP_DIR_NAME: &str = "productivitypro";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot find a data folder (no HOME, XDG_DATA_HOME or APPDATA); set {DATA_DIR_ENV}")]
    NoDataDir,
    #[error("time zone `{0}` is not an IANA zone name (e.g. Europe/Berlin)")]
    BadTimeZone(String),
}

impl ProfileError {
    pub fn code(&self) -> &'static str {
        match self {
            ProfileError::NoDataDir => "no_data_dir",
            ProfileError::BadTimeZone(_) => "invalid_time_zone",
        }
    }
}

/// What the process environment says; a value so tests need not mutate
/// the real environment.
#[derive(Debug, Clone, Default)]
pub struct EnvVars {
    pub data_dir: Option<OsString>,
    pub keyring_service: Option<String>,
    pub tz: Option<String>,
    /// The POSIX `TZ` variable.
    pub posix_tz: Option<String>,
    pub home: Option<OsString>,
    pub xdg_data_home: Option<OsString>,
    pub appdata: Option<OsString>,
}

impl EnvVars {
    pub fn from_process() -> Self {
        let s = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let os = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        EnvVars {
            data_dir: os(DATA_DIR_ENV),
            keyring_service: s(KEYRING_SERVICE_ENV),
            tz: s(TZ_ENV),
            posix_tz: s("TZ"),
            home: os("HOME"),
            xdg_data_home: os("XDG_DATA_HOME"),
            appdata: os("APPDATA"),
        }
    }

    /// The vault folder: `explicit` (a command-line flag), else
    /// `PRODUCTIVITYPRO_DATA_DIR`, else the OS data folder's
    /// `productivitypro` (e.g. `~/.local/share/productivitypro`).
    pub fn data_dir(&self, explicit: Option<PathBuf>) -> Result<PathBuf, ProfileError> {
        if let Some(d) = explicit {
            return Ok(d);
        }
        if let Some(d) = &self.data_dir {
            return Ok(PathBuf::from(d));
        }
        let base = if cfg!(target_os = "windows") {
            self.appdata.clone().map(PathBuf::from)
        } else if cfg!(target_os = "macos") {
            self.home
                .clone()
                .map(|h| PathBuf::from(h).join("Library/Application Support"))
        } else {
            self.xdg_data_home.clone().map(PathBuf::from).or_else(|| {
                self.home
                    .clone()
                    .map(|h| PathBuf::from(h).join(".local/share"))
            })
        };
        Ok(base.ok_or(ProfileError::NoDataDir)?.join(APP_DIR_NAME))
    }

    /// The zone dates mean: `explicit`, else `PRODUCTIVITYPRO_TZ`, else
    /// `TZ`, else the system's zone, else UTC. A zone named explicitly
    /// (flag or `PRODUCTIVITYPRO_TZ`) must be valid; the system's guesses
    /// fall back to UTC.
    pub fn local_tz(&self, explicit: Option<&str>) -> Result<chrono_tz::Tz, ProfileError> {
        if let Some(name) = explicit.or(self.tz.as_deref()) {
            return name
                .parse()
                .map_err(|_| ProfileError::BadTimeZone(name.to_string()));
        }
        let name = self
            .posix_tz
            .as_deref()
            .map(|s| s.trim_start_matches(':').to_string())
            .filter(|s| !s.is_empty())
            .or_else(|| iana_time_zone::get_timezone().ok());
        Ok(name.and_then(|n| n.parse().ok()).unwrap_or(chrono_tz::UTC))
    }

    /// The real clock and OS randomness, with this environment's keyring
    /// service name.
    pub fn system_env(&self, tz: chrono_tz::Tz) -> Env {
        let mut env = Env::system(tz);
        if let Some(service) = &self.keyring_service {
            env.keyring_service = service.clone();
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_prefers_flag_then_env_then_os_folder() {
        let mut e = EnvVars {
            home: Some("/home/a".into()),
            ..Default::default()
        };
        if cfg!(target_os = "linux") {
            assert_eq!(
                e.data_dir(None).unwrap(),
                PathBuf::from("/home/a/.local/share/productivitypro")
            );
            e.xdg_data_home = Some("/xdg".into());
            assert_eq!(
                e.data_dir(None).unwrap(),
                PathBuf::from("/xdg/productivitypro")
            );
        }
        e.data_dir = Some("/env".into());
        assert_eq!(e.data_dir(None).unwrap(), PathBuf::from("/env"));
        assert_eq!(
            e.data_dir(Some("/flag".into())).unwrap(),
            PathBuf::from("/flag")
        );
        assert_eq!(
            EnvVars::default().data_dir(None).unwrap_err(),
            ProfileError::NoDataDir
        );
    }

    #[test]
    fn explicit_zone_must_be_valid_system_zone_falls_back() {
        let e = EnvVars {
            tz: Some("Europe/Berlin".into()),
            posix_tz: Some("Asia/Tokyo".into()),
            ..Default::default()
        };
        assert_eq!(e.local_tz(None).unwrap(), chrono_tz::Europe::Berlin);
        assert_eq!(
            e.local_tz(Some("America/New_York")).unwrap(),
            chrono_tz::America::New_York
        );
        assert_eq!(
            e.local_tz(Some("Mars/Olympus")).unwrap_err().code(),
            "invalid_time_zone"
        );
        let posix = EnvVars {
            posix_tz: Some(":Asia/Tokyo".into()),
            ..Default::default()
        };
        assert_eq!(posix.local_tz(None).unwrap(), chrono_tz::Asia::Tokyo);
        let junk = EnvVars {
            posix_tz: Some("not a zone".into()),
            ..Default::default()
        };
        assert_eq!(junk.local_tz(None).unwrap(), chrono_tz::UTC);
    }

    #[test]
    fn keyring_service_comes_from_the_environment() {
        let e = EnvVars {
            keyring_service: Some("pp-test".into()),
            ..Default::default()
        };
        assert_eq!(e.system_env(chrono_tz::UTC).keyring_service, "pp-test");
        assert_eq!(
            EnvVars::default()
                .system_env(chrono_tz::UTC)
                .keyring_service,
            crate::env::DEFAULT_KEYRING_SERVICE
        );
    }
}
