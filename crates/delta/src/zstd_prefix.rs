//! zstd with the old artifact as a reference prefix (`zstd --patch-from`).

#[cfg(feature = "build")]
use zstd::zstd_safe::{CCtx, CParameter};
use zstd::zstd_safe::{DCtx, DParameter};

#[cfg(feature = "build")]
/// Level 19 (ultra levels gain little on binaries and cost much more
/// build time); long-distance matching finds the old artifact's copies
/// however far apart they moved.
const LEVEL: i32 = 19;

#[cfg(feature = "build")]
/// Built in zstd's worker mode (one worker): at level 19 with a reference
/// prefix of ~100 MB, single-threaded zstd 1.5.7 missed the whole old
/// artifact, shifted or not, and shipped a patch as large as the new one
/// (an AppImage minor release: 99.4%; 98 MB of random data shared by both
/// files: 100.3%), while one worker found it (8.8%; 9.3%). Both modes give
/// the same bytes on small inputs; the decoder is the same either way.
/// The output does not depend on the machine's core count.
const WORKERS: u32 = 1;

#[cfg(feature = "build")]
/// The window must reach back over the whole prefix to the start of the old
/// artifact, or matches into its beginning are lost.
fn window_log(old_len: usize, new_len: usize) -> u32 {
    let span = (old_len + new_len).max(1) as u64;
    let log = 64 - (span - 1).leading_zeros();
    log.clamp(10, 30)
}

fn err(code: usize) -> String {
    zstd::zstd_safe::get_error_name(code).to_string()
}

#[cfg(feature = "build")]
pub(crate) fn encode(old: &[u8], new: &[u8]) -> Result<Vec<u8>, String> {
    let mut cctx = CCtx::create();
    cctx.set_parameter(CParameter::CompressionLevel(LEVEL))
        .map_err(err)?;
    cctx.set_parameter(CParameter::WindowLog(window_log(old.len(), new.len())))
        .map_err(err)?;
    cctx.set_parameter(CParameter::EnableLongDistanceMatching(true))
        .map_err(err)?;
    cctx.set_parameter(CParameter::ChecksumFlag(true))
        .map_err(err)?;
    cctx.set_parameter(CParameter::NbWorkers(WORKERS))
        .map_err(err)?;
    cctx.ref_prefix(old).map_err(err)?;
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(new.len()));
    cctx.compress2(&mut out, new).map_err(err)?;
    Ok(out)
}

/// `new_len` is the header's (bounded) size: the output buffer never grows
/// past it, so a payload claiming more fails instead of allocating.
pub(crate) fn decode(old: &[u8], payload: &[u8], new_len: usize) -> Result<Vec<u8>, String> {
    let mut dctx = DCtx::create();
    dctx.set_parameter(DParameter::WindowLogMax(31))
        .map_err(err)?;
    dctx.ref_prefix(old).map_err(err)?;
    let mut out = Vec::with_capacity(new_len);
    dctx.decompress(&mut out, payload).map_err(err)?;
    Ok(out)
}
