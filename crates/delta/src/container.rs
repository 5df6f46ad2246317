//! The patch container. Layout (integers little-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `PPDELTA\0` |
//! | 2 | format version (1) |
//! | 1 | method (1 zstd, 2 bsdiff, 3 chunked, 4 deb) |
//! | 1 | reserved, 0 |
//! | 8 + 32 | old artifact size, SHA-256 |
//! | 8 + 32 | new artifact size, SHA-256 |
//! | 8 + 32 | payload size, SHA-256 |
//! | … | payload |
//!
//! The payload hash separates "the patch was damaged" (`delta_corrupt`)
//! from "the patch is for another base" (`delta_wrong_base`) before any
//! decoder runs; the new artifact's hash is what makes a wrong result
//! impossible to return.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::bounded::BoundedVec;
use crate::{chunked, deb, sha256, zstd_prefix, DeltaError, Method, MAX_ARTIFACT_SIZE};

pub const MAGIC: [u8; 8] = *b"PPDELTA\0";
pub const FORMAT_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 8 + 2 + 1 + 1 + 3 * (8 + 32);

/// What a patch says about itself, read without decoding it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub method: Method,
    pub old_size: u64,
    pub old_sha256: [u8; 32],
    pub new_size: u64,
    pub new_sha256: [u8; 32],
    pub payload_size: u64,
    pub payload_sha256: [u8; 32],
}

impl Header {
    #[cfg(feature = "build")]
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(self.method.to_byte());
        out.push(0);
        for (size, digest) in [
            (self.old_size, &self.old_sha256),
            (self.new_size, &self.new_sha256),
            (self.payload_size, &self.payload_sha256),
        ] {
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(digest);
        }
        out
    }
}

/// Builds a patch that turns `old` into `new`, and checks before returning
/// it that applying it to `old` gives `new` exactly (an encoder bug becomes
/// a build error on the service, never a bad patch on a client).
#[cfg(feature = "build")]
pub fn build(old: &[u8], new: &[u8], method: Method) -> Result<Vec<u8>, DeltaError> {
    for len in [old.len(), new.len()] {
        if len as u64 > MAX_ARTIFACT_SIZE {
            return Err(DeltaError::TooLarge(len as u64));
        }
    }
    let encoded = catch_unwind(AssertUnwindSafe(|| match method {
        Method::Zstd => zstd_prefix::encode(old, new),
        Method::Bsdiff => {
            let mut patch = Vec::new();
            qbsdiff::Bsdiff::new(old, new)
                .compare(std::io::Cursor::new(&mut patch))
                .map(|_| patch)
                .map_err(|e| e.to_string())
        }
        Method::Chunked => chunked::encode(old, new),
        Method::Deb => deb::encode(old, new),
    }));
    let payload = match encoded {
        Ok(Ok(payload)) => payload,
        Ok(Err(reason)) => return Err(DeltaError::Build { method, reason }),
        Err(_) => {
            return Err(DeltaError::Build {
                method,
                reason: "encoder panicked".into(),
            })
        }
    };
    let header = Header {
        method,
        old_size: old.len() as u64,
        old_sha256: sha256(old),
        new_size: new.len() as u64,
        new_sha256: sha256(new),
        payload_size: payload.len() as u64,
        payload_sha256: sha256(&payload),
    };
    let mut patch = header.encode();
    patch.extend_from_slice(&payload);
    apply(old, &patch).map_err(|e| DeltaError::Build {
        method,
        reason: format!("the built patch does not rebuild the artifact: {e}"),
    })?;
    Ok(patch)
}

/// Reads and checks a patch's header: magic, version, method, sizes within
/// bounds and a payload of exactly the stated length.
pub fn inspect(patch: &[u8]) -> Result<Header, DeltaError> {
    if patch.len() < MAGIC.len() || patch[..MAGIC.len()] != MAGIC {
        return Err(DeltaError::Malformed("missing the PPDELTA magic"));
    }
    if patch.len() < HEADER_LEN {
        return Err(DeltaError::Truncated {
            expected: HEADER_LEN as u64,
            actual: patch.len() as u64,
        });
    }
    let version = u16::from_le_bytes([patch[8], patch[9]]);
    if version != FORMAT_VERSION {
        return Err(DeltaError::UnsupportedVersion(version));
    }
    let method = Method::from_byte(patch[10])?;
    if patch[11] != 0 {
        return Err(DeltaError::Malformed("reserved header byte is not zero"));
    }
    // Cannot panic on any input: the three fields end at byte 132 ≤
    // HEADER_LEN, and a shorter patch was refused above.
    let field = |at: usize| -> (u64, [u8; 32]) {
        let size = u64::from_le_bytes(patch[at..at + 8].try_into().expect("8 bytes"));
        let digest = patch[at + 8..at + 40].try_into().expect("32 bytes");
        (size, digest)
    };
    let (old_size, old_sha256) = field(12);
    let (new_size, new_sha256) = field(52);
    let (payload_size, payload_sha256) = field(92);
    for size in [old_size, new_size] {
        if size > MAX_ARTIFACT_SIZE {
            return Err(DeltaError::TooLarge(size));
        }
    }
    let actual = (patch.len() - HEADER_LEN) as u64;
    if actual != payload_size {
        return Err(DeltaError::Truncated {
            expected: payload_size,
            actual,
        });
    }
    Ok(Header {
        method,
        old_size,
        old_sha256,
        new_size,
        new_sha256,
        payload_size,
        payload_sha256,
    })
}

/// Rebuilds the new artifact from `old` and `patch`. Returns the new
/// artifact only when its size and SHA-256 are the ones the header names;
/// every other outcome is an error (never a panic, never other bytes).
pub fn apply(old: &[u8], patch: &[u8]) -> Result<Vec<u8>, DeltaError> {
    let header = inspect(patch)?;
    let old_sha256 = sha256(old);
    if old.len() as u64 != header.old_size || old_sha256 != header.old_sha256 {
        return Err(DeltaError::WrongBase {
            expected_size: header.old_size,
            expected_sha256: hex(&header.old_sha256),
            actual_size: old.len() as u64,
            actual_sha256: hex(&old_sha256),
        });
    }
    let payload = &patch[HEADER_LEN..];
    if sha256(payload) != header.payload_sha256 {
        return Err(DeltaError::Corrupt);
    }
    let new_len = header.new_size as usize;
    let method = header.method;
    let decoded = catch_unwind(AssertUnwindSafe(|| match method {
        Method::Zstd => zstd_prefix::decode(old, payload, new_len),
        Method::Bsdiff => {
            let patcher = qbsdiff::Bspatch::new(payload).map_err(|e| e.to_string())?;
            let mut out = BoundedVec::new(new_len);
            patcher.apply(old, &mut out).map_err(|e| e.to_string())?;
            Ok(out.bytes)
        }
        Method::Chunked => chunked::decode(old, payload, new_len),
        Method::Deb => deb::decode(old, payload, new_len),
    }));
    let rebuilt = match decoded {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(reason)) => return Err(DeltaError::Decode { method, reason }),
        Err(_) => {
            return Err(DeltaError::Decode {
                method,
                reason: "decoder panicked".into(),
            })
        }
    };
    if rebuilt.len() as u64 != header.new_size || sha256(&rebuilt) != header.new_sha256 {
        return Err(DeltaError::ResultMismatch);
    }
    Ok(rebuilt)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
