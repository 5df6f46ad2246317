//! Small files written whole: a temporary sibling, fsync, rename. A crash
//! mid-write leaves the old file, never half of the new one.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use crate::HealthError;

pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), HealthError> {
    let err = HealthError::write;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(err(path))?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = open_private(&tmp).map_err(err(path))?;
    f.write_all(bytes).map_err(err(path))?;
    f.sync_all().map_err(err(path))?;
    drop(f);
    fs::rename(&tmp, path).map_err(err(path))?;
    Ok(())
}

/// Readable by this user only: install ids and tokens are not secrets, but
/// they are nobody else's business.
pub(crate) fn open_private(path: &Path) -> std::io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    o.open(path)
}
