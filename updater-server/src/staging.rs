//! Where uploads wait while they are hashed and verified. Each running
//! service owns a directory `<staging_dir>/<id>/`, named by a lock file
//! `<id>.lock` it holds for its lifetime; at start, directories whose lock
//! nobody holds (their service was killed) are removed with what they
//! contain. The bytes staged at once by one service are bounded.

use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct Staging {
    dir: PathBuf,
    budget: Budget,
    /// Held (locked) until the service exits; the OS releases it on a crash.
    _lock: File,
}

/// What `Staging::open` removed.
#[derive(Debug, Default, PartialEq)]
pub struct Removed {
    pub files: u64,
    pub bytes: u64,
}

impl Staging {
    pub fn open(root: &Path, limit: u64) -> io::Result<(Staging, Removed)> {
        std::fs::create_dir_all(root)?;
        let removed = remove_abandoned(root)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        // Locked under a name the clean-up ignores, then renamed into place,
        // so no other service starting now can take it for abandoned.
        let pending = root.join(format!(".{id}.lock.new"));
        let lock = File::create(&pending)?;
        lock.lock()?;
        std::fs::rename(&pending, root.join(format!("{id}.lock")))?;
        let dir = root.join(&id);
        std::fs::create_dir(&dir)?;
        let staging = Staging {
            dir,
            budget: Budget {
                used: Arc::new(AtomicU64::new(0)),
                limit,
            },
            _lock: lock,
        };
        Ok((staging, removed))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn budget(&self) -> &Budget {
        &self.budget
    }
}

/// Whether `lock` is held by a live process (`false`: whoever held it is gone).
fn held(lock: &Path) -> io::Result<bool> {
    let f = match File::open(lock) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match f.try_lock() {
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

fn size_of(path: &Path) -> (u64, u64) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|d| {
                d.flatten().fold((0, 0), |(f, b), e| {
                    let (f2, b2) = size_of(&e.path());
                    (f + f2, b + b2)
                })
            })
            .unwrap_or_default(),
        Ok(m) => (1, m.len()),
        Err(_) => (0, 0),
    }
}

fn remove(path: &Path, removed: &mut Removed) -> io::Result<()> {
    let (files, bytes) = size_of(path);
    let result = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            removed.files += files;
            removed.bytes += bytes;
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes what no live service owns: directories whose lock is free or
/// gone, their locks, and loose temporary files (the layout before
/// per-service directories). Anything else in the folder is left alone.
fn remove_abandoned(root: &Path) -> io::Result<Removed> {
    let mut removed = Removed::default();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let is_dir = entry.file_type()?.is_dir();
        if let Some(id) = name
            .strip_suffix(".lock")
            .filter(|_| !name.starts_with('.'))
        {
            if !held(&path)? {
                remove(&root.join(id), &mut removed)?;
                std::fs::remove_file(&path).or_else(ignore_missing)?;
            }
        } else if is_dir && !name.starts_with('.') {
            if !root.join(format!("{name}.lock")).exists() {
                remove(&path, &mut removed)?;
            }
        } else if name.starts_with(".tmp") && !is_dir {
            remove(&path, &mut removed)?;
        } else if name.ends_with(".lock.new") && !held(&path)? {
            std::fs::remove_file(&path).or_else(ignore_missing)?;
        }
    }
    Ok(removed)
}

fn ignore_missing(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

/// The bytes all uploads of this service may stage at once.
#[derive(Clone)]
pub struct Budget {
    used: Arc<AtomicU64>,
    limit: u64,
}

/// Staging is full: the bytes could not be taken.
#[derive(Debug)]
pub struct Full {
    pub limit: u64,
}

impl Budget {
    /// An empty claim that grows with `Claim::take` and is returned on drop.
    pub fn claim(&self) -> Claim {
        Claim {
            budget: self.clone(),
            bytes: 0,
        }
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }
}

/// Bytes of the staging budget held by one upload until it is dropped.
pub struct Claim {
    budget: Budget,
    bytes: u64,
}

impl Claim {
    pub fn take(&mut self, n: u64) -> Result<(), Full> {
        let limit = self.budget.limit;
        self.budget
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(n).filter(|total| *total <= limit)
            })
            .map_err(|_| Full { limit })?;
        self.bytes += n;
        Ok(())
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_service_removes_only_what_no_live_service_owns() {
        let root = tempfile::tempdir().unwrap();
        let (live, removed) = Staging::open(root.path(), 1 << 20).unwrap();
        assert_eq!(removed, Removed::default());
        std::fs::write(live.dir().join("upload"), b"in progress").unwrap();
        // A killed service's directory (its lock file is free), and a loose
        // temporary file from the old layout.
        std::fs::write(root.path().join("dead.lock"), b"").unwrap();
        std::fs::create_dir(root.path().join("dead")).unwrap();
        std::fs::write(root.path().join("dead/partial"), vec![0u8; 1000]).unwrap();
        std::fs::write(root.path().join(".tmpAbC123"), vec![0u8; 24]).unwrap();
        std::fs::write(root.path().join("README"), b"not ours").unwrap();

        let (second, removed) = Staging::open(root.path(), 1 << 20).unwrap();
        assert_eq!(
            removed,
            Removed {
                files: 2,
                bytes: 1024
            }
        );
        assert!(
            live.dir().join("upload").exists(),
            "a live service's upload was removed"
        );
        assert!(second.dir().exists());
        assert!(root.path().join("README").exists());
        assert!(!root.path().join("dead").exists() && !root.path().join("dead.lock").exists());
    }

    #[test]
    fn claims_are_bounded_and_returned() {
        let root = tempfile::tempdir().unwrap();
        let (s, _) = Staging::open(root.path(), 100).unwrap();
        let mut a = s.budget().claim();
        a.take(60).unwrap();
        let mut b = s.budget().claim();
        assert!(b.take(50).is_err());
        b.take(40).unwrap();
        drop(a);
        assert_eq!(s.budget().used(), 40);
        b.take(60).unwrap();
    }
}
