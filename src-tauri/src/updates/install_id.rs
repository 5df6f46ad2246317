//! The install id: a random UUID made once per installation and sent as
//! `X-Install-Id` with every update check, so staged rollouts reach a
//! stable set of installs. It lives in the app's data folder (never in
//! the vault: it is not the user's data and must exist before an unlock),
//! readable by the user only. It says nothing about the user; a file that
//! cannot be read is replaced by a new id (logged), never a failure.

use std::io::Write;
use std::path::{Path, PathBuf};

use uuid::Uuid;

pub const FILE_NAME: &str = "install-id";

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The stored id, or a new one stored now. `None` only when the folder
/// cannot be written: the check then goes without an id (a partial
/// rollout does not reach it) rather than with one that changes on each
/// start.
pub fn load_or_create(dir: &Path, fresh: impl FnOnce() -> Uuid) -> Option<Uuid> {
    let file = path(dir);
    match std::fs::read_to_string(&file) {
        Ok(text) => match productivitypro_protocol::parse_install_id(text.trim()) {
            Some(id) => return Some(id),
            None => tracing::warn!("install id file is corrupt; a new id replaces it"),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "install id unreadable; a new id replaces it"),
    }
    let id = fresh();
    match store(dir, &id) {
        Ok(()) => Some(id),
        Err(e) => {
            tracing::warn!(error = %e, "install id not stored; checking without one");
            None
        }
    }
}

/// Writes the id beside, then renames it over the old file, mode 0600.
fn store(dir: &Path, id: &Uuid) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    #[cfg(unix)]
    {
        // The file may have existed with a wider mode.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    writeln!(f, "{}", id.hyphenated())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let id = load_or_create(dir.path(), Uuid::new_v4).unwrap();
        let again = load_or_create(dir.path(), || panic!("must not make a second id")).unwrap();
        assert_eq!(id, again);
        assert_eq!(
            std::fs::read_to_string(path(dir.path())).unwrap(),
            format!("{}\n", id.hyphenated())
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_corrupt_file_is_replaced_by_a_new_id() {
        let dir = tempfile::tempdir().unwrap();
        for junk in [
            &b"not a uuid"[..],
            b"",
            b"\xff\xfe",
            b"{67e55044-10b1-426f-9247-bb680e5fe0c8}",
        ] {
            std::fs::write(path(dir.path()), junk).unwrap();
            let fresh = Uuid::new_v4();
            assert_eq!(load_or_create(dir.path(), || fresh), Some(fresh));
            assert_eq!(load_or_create(dir.path(), Uuid::new_v4), Some(fresh));
        }
    }

    #[test]
    fn a_folder_that_cannot_be_written_gives_no_id() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        // A path under a regular file cannot be created.
        assert_eq!(load_or_create(&blocker.join("sub"), Uuid::new_v4), None);
    }
}
