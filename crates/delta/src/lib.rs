//! Delta update patches (issue 10).
//!
//! A patch turns one exact artifact (the "old" one an install still holds)
//! into another exact artifact (the "new" one a release publishes). It is a
//! small container (`container.rs`) naming both artifacts by SHA-256 and
//! size, then one method's payload:
//!
//! - [`Method::Zstd`]: the new artifact compressed by zstd with the old one
//!   as a reference prefix (`zstd --patch-from`), long-distance matching on;
//! - [`Method::Bsdiff`]: a bsdiff 4 patch (`qbsdiff`);
//! - [`Method::Chunked`]: the new artifact cut into content-defined chunks
//!   (FastCDC), chunks the old one holds copied from it, the others shipped
//!   zstd-compressed;
//! - [`Method::Deb`]: for a .deb, zstd over its decompressed members, which
//!   are recompressed exactly as dpkg-deb did (only where that is exact).
//!
//! [`apply`] never returns bytes that are not exactly the new artifact: it
//! checks the old artifact's hash before decoding and the rebuilt
//! artifact's size and hash after. Every failure is a [`DeltaError`] with a
//! stable [`DeltaError::code`]; callers fall back to the full download.
//! Signatures are not this crate's business: the caller verifies the
//! rebuilt artifact against the release's signature, as for a full download.

mod bounded;
mod chunked;
mod container;
mod deb;
mod error;
mod method;
mod zstd_prefix;

#[cfg(feature = "build")]
pub use container::build;
pub use container::{apply, inspect, Header, FORMAT_VERSION, HEADER_LEN, MAGIC};
pub use error::DeltaError;
pub use method::Method;

/// Largest artifact (old or new) a patch may name: larger ones are refused
/// before any allocation, so a hostile header cannot ask for terabytes.
pub const MAX_ARTIFACT_SIZE: u64 = 1 << 30;

/// SHA-256 of `bytes`, the digest patches name artifacts by.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
