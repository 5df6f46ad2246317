use std::fmt;
use std::str::FromStr;

use crate::DeltaError;

/// How a patch's payload encodes the new artifact. The byte values are part
/// of the container format and never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// zstd, the old artifact as reference prefix (`--patch-from`).
    Zstd,
    /// bsdiff 4 (`qbsdiff`).
    Bsdiff,
    /// FastCDC chunks: copies from the old artifact plus zstd literals.
    Chunked,
    /// .deb only: zstd over the decompressed members, recompressed as
    /// dpkg-deb does (`deb.rs`); builds only where that is byte-exact.
    Deb,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Zstd, Method::Bsdiff, Method::Chunked, Method::Deb];
    /// The methods that take any bytes.
    pub const GENERIC: [Method; 3] = [Method::Zstd, Method::Bsdiff, Method::Chunked];

    pub fn to_byte(self) -> u8 {
        match self {
            Method::Zstd => 1,
            Method::Bsdiff => 2,
            Method::Chunked => 3,
            Method::Deb => 4,
        }
    }

    pub fn from_byte(byte: u8) -> Result<Method, DeltaError> {
        match byte {
            1 => Ok(Method::Zstd),
            2 => Ok(Method::Bsdiff),
            3 => Ok(Method::Chunked),
            4 => Ok(Method::Deb),
            other => Err(DeltaError::UnknownMethod(other)),
        }
    }

    /// The name used on the wire (`delta.method`) and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Zstd => "zstd",
            Method::Bsdiff => "bsdiff",
            Method::Chunked => "chunked",
            Method::Deb => "deb",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Method, String> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!("unknown delta method {s:?} (known: zstd, bsdiff, chunked, deb)")
            })
    }
}
