use crate::Method;

/// Why a patch could not be built or applied. `code()` is stable: the app
/// logs it and reports it in health events; any of them means "fall back
/// to the full download".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeltaError {
    /// Not a patch at all (wrong magic, header cut short, fields that
    /// contradict each other).
    #[error("not a delta patch: {0}")]
    Malformed(&'static str),
    /// A container version this build does not read.
    #[error("delta patch format version {0} is not supported (this build reads version {supported})", supported = crate::FORMAT_VERSION)]
    UnsupportedVersion(u16),
    /// A method byte this build does not know.
    #[error("delta patch method {0} is not known")]
    UnknownMethod(u8),
    /// The payload is shorter or longer than the header says (an
    /// interrupted download).
    #[error("delta patch is truncated or has trailing bytes: payload {actual} bytes, header says {expected}")]
    Truncated { expected: u64, actual: u64 },
    /// The payload does not hash to the header's digest (corrupted in
    /// storage or transit).
    #[error("delta patch payload is corrupt (SHA-256 mismatch)")]
    Corrupt,
    /// The artifact the patch starts from is not the one given.
    #[error("delta patch applies to a different base artifact (expected {expected_size} bytes with SHA-256 {expected_sha256}, got {actual_size} bytes with SHA-256 {actual_sha256})")]
    WrongBase {
        expected_size: u64,
        expected_sha256: String,
        actual_size: u64,
        actual_sha256: String,
    },
    /// An artifact larger than [`crate::MAX_ARTIFACT_SIZE`].
    #[error("artifact of {0} bytes is larger than delta patches support")]
    TooLarge(u64),
    /// The method's decoder refused the payload.
    #[error("{method} payload could not be decoded: {reason}")]
    Decode { method: Method, reason: String },
    /// Decoding finished but did not give the artifact the header names.
    #[error("rebuilt artifact does not match the patch's target (size or SHA-256)")]
    ResultMismatch,
    /// The method's encoder failed while building.
    #[error("{method} patch could not be built: {reason}")]
    Build { method: Method, reason: String },
}

impl DeltaError {
    pub fn code(&self) -> &'static str {
        match self {
            DeltaError::Malformed(_) => "delta_malformed",
            DeltaError::UnsupportedVersion(_) => "delta_unsupported_version",
            DeltaError::UnknownMethod(_) => "delta_unknown_method",
            DeltaError::Truncated { .. } => "delta_truncated",
            DeltaError::Corrupt => "delta_corrupt",
            DeltaError::WrongBase { .. } => "delta_wrong_base",
            DeltaError::TooLarge(_) => "delta_too_large",
            DeltaError::Decode { .. } => "delta_decode_failed",
            DeltaError::ResultMismatch => "delta_result_mismatch",
            DeltaError::Build { .. } => "delta_build_failed",
        }
    }
}
