//! The last installed artifact, kept for delta updates (docs/desktop-ipc.md,
//! "Updates"): one file in `<app cache dir>/updates/`, named
//! `productivitypro-<version>.<bundle>` (`bundle`: the plugin's
//! `{{bundle_type}}`, `unknown` for a binary the bundler did not stamp).
//!
//! Must hold: after an install the folder holds only the installed
//! version's file (`keep` before installing, `prune` once the install
//! succeeded: a failed install still has the running version's artifact
//! for the next delta; where installing ends the process, Windows, the
//! next `keep` prunes all but the running and the new version's); a file is written whole or not
//! at all (temporary file, fsync, rename, folder fsync); nothing about its
//! content is trusted from a side file: its SHA-256 is recomputed when a
//! patch is applied to it (`productivitypro_delta::apply` checks it against
//! the patch's header before decoding).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tauri::utils::config::BundleType;

const PREFIX: &str = "productivitypro-";
/// A file being written; never read as an artifact, removed when found.
const PARTIAL: &str = ".partial";

/// The `{{bundle_type}}` the plugin sends for this binary.
pub fn bundle_name() -> &'static str {
    match tauri::utils::platform::bundle_type() {
        Some(BundleType::Deb) => "deb",
        Some(BundleType::Rpm) => "rpm",
        Some(BundleType::AppImage) => "appimage",
        Some(BundleType::Msi) => "msi",
        Some(BundleType::Nsis) => "nsis",
        Some(BundleType::App) => "app",
        _ => "unknown",
    }
}

/// The folder that keeps the artifact.
#[derive(Debug, Clone)]
pub struct Kept {
    dir: PathBuf,
    bundle: &'static str,
}

impl Kept {
    pub fn new(dir: PathBuf) -> Kept {
        Kept {
            dir,
            bundle: bundle_name(),
        }
    }

    pub fn file_name(&self, version: &str) -> String {
        format!("{PREFIX}{version}.{}", self.bundle)
    }

    /// The kept artifact of `version`, when there is one (a regular,
    /// non-empty file; its content is checked only when used).
    pub fn find(&self, version: &str) -> Option<PathBuf> {
        let path = self.dir.join(self.file_name(version));
        let meta = fs::symlink_metadata(&path).ok()?;
        (meta.is_file() && meta.len() > 0).then_some(path)
    }

    /// Keeps `bytes` as `version`'s artifact, replacing any earlier copy.
    pub fn keep(&self, version: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        fs::create_dir_all(&self.dir)?;
        let name = self.file_name(version);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!("{name}{PARTIAL}"));
        let written = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            sync_dir(&self.dir)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(path)
    }

    /// Removes every file but `version`'s artifact (older artifacts,
    /// interrupted writes).
    pub fn prune(&self, version: &str) -> io::Result<()> {
        self.prune_except(&[version])
    }

    /// Removes every file but the artifacts of `versions`.
    pub fn prune_except(&self, versions: &[&str]) -> io::Result<()> {
        let names: Vec<String> = versions.iter().map(|v| self.file_name(v)).collect();
        for entry in fs::read_dir(&self.dir)?.flatten() {
            let name = entry.file_name();
            if !names.iter().any(|n| name.to_str() == Some(n.as_str())) {
                let p = entry.path();
                let removed = if p.is_dir() {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
                if removed.is_err() {
                    tracing::warn!(
                        code = "update_kept_cleanup_failed",
                        "an older kept update artifact could not be removed"
                    );
                }
            }
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_exactly_the_newest_artifact() {
        let tmp = tempfile::tempdir().unwrap();
        let kept = Kept::new(tmp.path().join("updates"));
        assert_eq!(kept.find("1.0.0"), None, "nothing kept yet");
        kept.keep("1.0.0", b"one").unwrap();
        let one = kept.find("1.0.0").unwrap();
        assert_eq!(fs::read(&one).unwrap(), b"one");
        // Leftovers of an interrupted write and stray files go too.
        fs::write(kept.dir().join("productivitypro-1.1.0.deb.partial"), b"x").unwrap();
        kept.keep("1.1.0", b"two").unwrap();
        // Until the install succeeded the running version's stays.
        assert!(kept.find("1.0.0").is_some());
        kept.prune("1.1.0").unwrap();
        let names: Vec<String> = fs::read_dir(kept.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [kept.file_name("1.1.0")]);
        assert_eq!(kept.find("1.0.0"), None);
        assert_eq!(fs::read(kept.find("1.1.0").unwrap()).unwrap(), b"two");
    }

    #[test]
    fn pruning_before_an_install_keeps_the_running_versions_artifact() {
        let tmp = tempfile::tempdir().unwrap();
        let kept = Kept::new(tmp.path().to_path_buf());
        kept.keep("1.0.0", b"older").unwrap();
        kept.keep("1.1.0", b"running").unwrap();
        kept.keep("1.2.0", b"new").unwrap();
        kept.prune_except(&["1.2.0", "1.1.0"]).unwrap();
        assert_eq!(kept.find("1.0.0"), None);
        assert!(kept.find("1.1.0").is_some() && kept.find("1.2.0").is_some());
    }

    #[test]
    fn an_empty_file_is_not_an_artifact() {
        let tmp = tempfile::tempdir().unwrap();
        let kept = Kept::new(tmp.path().to_path_buf());
        fs::write(tmp.path().join(kept.file_name("1.0.0")), b"").unwrap();
        assert_eq!(kept.find("1.0.0"), None);
    }
}
