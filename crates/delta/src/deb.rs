//! The .deb-aware method. A .deb is an ar archive whose members are
//! gzip-compressed tars (dpkg-deb `-Zgzip -z9`, installers/linux/
//! normalize-deb): a small change to the binary rewrites most compressed
//! bytes, so a patch of the raw file is nearly the whole file. This method
//! patches the *decompressed* members instead (bsdiff: on the release
//! binaries it was a third smaller than zstd's prefix mode and five times
//! faster to build, docs/benchmarks.md) and recompresses them as dpkg-deb did: zlib, level 9, memLevel
//! 8, the member's own 10-byte gzip header, CRC-32 and length.
//!
//! That recompression is exact only if this zlib emits the bytes dpkg-deb's
//! zlib emitted; `build` (container.rs) applies every patch before
//! returning it, so a .deb it cannot reproduce fails to build (and the
//! service falls back to another method) instead of shipping.
//!
//! Payload: varint member count; per member its 60-byte ar header, a kind
//! byte (0 stored, 1 gzip) and for gzip the 10-byte gzip header; varint raw
//! length; then a byte naming the inner method (2 bsdiff, the container's
//! number for it) and the inner patch from the old members' raw bytes
//! (concatenated) to the new ones'.

use std::io::{Read, Write};

use crate::bounded::BoundedVec;
use crate::chunked::get_varint;
#[cfg(feature = "build")]
use crate::chunked::put_varint;
use crate::{Method, MAX_ARTIFACT_SIZE};

const AR_MAGIC: &[u8] = b"!<arch>\n";
const GZIP_HEADER: usize = 10;

struct Member<'a> {
    header: &'a [u8],
    data: &'a [u8],
}

fn members(deb: &[u8]) -> Result<Vec<Member<'_>>, String> {
    if !deb.starts_with(AR_MAGIC) {
        return Err("not a .deb (no ar magic)".into());
    }
    let mut out = Vec::new();
    let mut pos = AR_MAGIC.len();
    while pos < deb.len() {
        let header = deb.get(pos..pos + 60).ok_or("ar header cut short")?;
        let size: usize = std::str::from_utf8(&header[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or("ar member size is not a number")?;
        let start = pos + 60;
        let data = deb
            .get(start..start.checked_add(size).ok_or("ar size overflows")?)
            .ok_or("ar member cut short")?;
        out.push(Member { header, data });
        pos = start + size;
        if size % 2 == 1 {
            if deb.get(pos) != Some(&b'\n') {
                return Err("ar padding byte missing".into());
            }
            pos += 1;
        }
    }
    Ok(out)
}

fn is_gzip(m: &Member<'_>) -> bool {
    let name = std::str::from_utf8(&m.header[..16]).unwrap_or("");
    name.trim_end().trim_end_matches('/').ends_with(".gz")
}

/// A gzip member's decompressed bytes, bounded.
fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .take(MAX_ARTIFACT_SIZE + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip member: {e}"))?;
    if out.len() as u64 > MAX_ARTIFACT_SIZE {
        return Err("gzip member expands past the size limit".into());
    }
    Ok(out)
}

/// The raw bytes of every member, concatenated: what the inner patch spans.
fn expand(deb: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for m in members(deb)? {
        if is_gzip(&m) {
            out.extend_from_slice(&gunzip(m.data)?);
        } else {
            out.extend_from_slice(m.data);
        }
        if out.len() as u64 > MAX_ARTIFACT_SIZE {
            return Err("members expand past the size limit".into());
        }
    }
    Ok(out)
}

#[cfg(feature = "build")]
pub(crate) fn encode(old: &[u8], new: &[u8]) -> Result<Vec<u8>, String> {
    let old_raw = expand(old)?;
    let mut new_raw = Vec::new();
    let mut out = Vec::new();
    let new_members = members(new)?;
    put_varint(&mut out, new_members.len() as u64);
    for m in &new_members {
        out.extend_from_slice(m.header);
        if is_gzip(m) {
            let header = m.data.get(..GZIP_HEADER).ok_or("gzip member cut short")?;
            // Only the plain header dpkg-deb writes (no name, extra or comment).
            if header[..3] != [0x1f, 0x8b, 8] || header[3] != 0 {
                return Err("gzip member with an unsupported header".into());
            }
            let raw = gunzip(m.data)?;
            out.push(1);
            out.extend_from_slice(header);
            put_varint(&mut out, raw.len() as u64);
            new_raw.extend_from_slice(&raw);
        } else {
            out.push(0);
            put_varint(&mut out, m.data.len() as u64);
            new_raw.extend_from_slice(m.data);
        }
    }
    out.push(Method::Bsdiff.to_byte());
    let mut inner = Vec::new();
    qbsdiff::Bsdiff::new(&old_raw, &new_raw)
        .compare(std::io::Cursor::new(&mut inner))
        .map_err(|e| e.to_string())?;
    out.extend_from_slice(&inner);
    Ok(out)
}

/// Deflates `raw` as dpkg-deb's zlib does, wrapped in `header` + CRC-32 + length.
fn gzip_like(header: &[u8], raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(raw.len() / 3 + 64),
        flate2::Compression::new(9),
    );
    enc.write_all(raw).map_err(|e| e.to_string())?;
    let deflated = enc.finish().map_err(|e| e.to_string())?;
    let mut crc = flate2::Crc::new();
    crc.update(raw);
    let mut out = Vec::with_capacity(header.len() + deflated.len() + 8);
    out.extend_from_slice(header);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    Ok(out)
}

pub(crate) fn decode(old: &[u8], payload: &[u8], new_len: usize) -> Result<Vec<u8>, String> {
    let old_raw = expand(old)?;
    let mut cursor = 0usize;
    let count = get_varint(payload, &mut cursor)?;
    struct Plan<'a> {
        ar_header: &'a [u8],
        gzip_header: Option<&'a [u8]>,
        raw_len: u64,
    }
    let mut plan = Vec::new();
    let mut total = 0u64;
    for _ in 0..count {
        let ar_header = payload
            .get(cursor..cursor + 60)
            .ok_or("member list cut short")?;
        cursor += 60;
        let kind = *payload.get(cursor).ok_or("member list cut short")?;
        cursor += 1;
        let gzip_header = match kind {
            0 => None,
            1 => {
                let h = payload
                    .get(cursor..cursor + GZIP_HEADER)
                    .ok_or("member list cut short")?;
                cursor += GZIP_HEADER;
                Some(h)
            }
            other => return Err(format!("unknown member kind {other}")),
        };
        let raw_len = get_varint(payload, &mut cursor)?;
        total = total.checked_add(raw_len).ok_or("member sizes overflow")?;
        if total > MAX_ARTIFACT_SIZE {
            return Err("members expand past the size limit".into());
        }
        plan.push(Plan {
            ar_header,
            gzip_header,
            raw_len,
        });
    }
    let inner = *payload.get(cursor).ok_or("inner patch missing")?;
    if inner != Method::Bsdiff.to_byte() {
        return Err(format!("unknown inner method {inner}"));
    }
    let patcher = qbsdiff::Bspatch::new(&payload[cursor + 1..]).map_err(|e| e.to_string())?;
    let mut new_raw = BoundedVec::new(total as usize);
    patcher
        .apply(&old_raw, &mut new_raw)
        .map_err(|e| e.to_string())?;
    let new_raw = new_raw.bytes;
    if new_raw.len() as u64 != total {
        return Err("inner patch gave another length than the members need".into());
    }
    let mut out = Vec::with_capacity(new_len);
    out.extend_from_slice(AR_MAGIC);
    let mut at = 0usize;
    for p in plan {
        let raw = &new_raw[at..at + p.raw_len as usize];
        at += p.raw_len as usize;
        let data = match p.gzip_header {
            Some(h) => gzip_like(h, raw)?,
            None => raw.to_vec(),
        };
        out.extend_from_slice(p.ar_header);
        out.extend_from_slice(&data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
        if out.len() > new_len {
            return Err("members rebuild more than the declared size".into());
        }
    }
    Ok(out)
}
