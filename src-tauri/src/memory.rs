//! Hands freed heap memory back to the OS after a burst. Unlocking 10k
//! tasks decrypts them on several threads and builds a snapshot that is
//! serialised for IPC and dropped; glibc keeps the freed pages (and
//! raises its trim threshold after large frees), so without a trim the
//! app would keep the peak of the load for as long as it runs. Measured
//! by `bench/desktop` (docs/benchmarks.md, "Desktop app").

use std::time::Duration;

/// After a vault was opened: long enough for the snapshot to have crossed
/// IPC and been dropped.
pub const AFTER_OPEN: Duration = Duration::from_secs(2);

/// Returns free heap pages of every malloc arena to the OS. A few
/// milliseconds for a heap of ~100 MB; nothing on other platforms.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
