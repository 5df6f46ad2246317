//! Content-defined chunks: the new artifact is cut with FastCDC (the same
//! cut points wherever the same bytes occur), every chunk the old artifact
//! also holds becomes a copy from it, the rest are shipped as literals. The
//! payload is zstd over `ops ++ literals`; ops are LEB128 varints:
//! `count`, then per op `tag` (0 copy, 1 literal) and for a copy
//! `offset, len`, for a literal `len`.

use std::io::Read;

#[cfg(feature = "build")]
use build_side::*;

#[cfg(feature = "build")]
mod build_side {
    pub(super) use std::collections::HashMap;
    pub(super) use std::io::Write;

    pub(super) use fastcdc::v2020::FastCDC;

    pub(super) const MIN_CHUNK: u32 = 2 * 1024;
    pub(super) const AVG_CHUNK: u32 = 8 * 1024;
    pub(super) const MAX_CHUNK: u32 = 64 * 1024;
    pub(super) const LEVEL: i32 = 19;
}

enum Op {
    Copy { offset: u64, len: u64 },
    Literal { len: u64 },
}

#[cfg(feature = "build")]
fn chunks(data: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    FastCDC::new(data, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK).map(|c| (c.offset, c.length))
}

#[cfg(feature = "build")]
pub(crate) fn encode(old: &[u8], new: &[u8]) -> Result<Vec<u8>, String> {
    let mut index: HashMap<[u8; 32], usize> = HashMap::new();
    for (offset, len) in chunks(old) {
        index
            .entry(crate::sha256(&old[offset..offset + len]))
            .or_insert(offset);
    }
    let mut ops: Vec<Op> = Vec::new();
    let mut literals = Vec::new();
    for (offset, len) in chunks(new) {
        let chunk = &new[offset..offset + len];
        let len = len as u64;
        match index.get(&crate::sha256(chunk)) {
            Some(&from) => match ops.last_mut() {
                Some(Op::Copy { offset: o, len: l }) if *o + *l == from as u64 => *l += len,
                _ => ops.push(Op::Copy {
                    offset: from as u64,
                    len,
                }),
            },
            None => {
                literals.extend_from_slice(chunk);
                match ops.last_mut() {
                    Some(Op::Literal { len: l }) => *l += len,
                    _ => ops.push(Op::Literal { len }),
                }
            }
        }
    }
    let mut body = Vec::with_capacity(literals.len() + ops.len() * 8 + 8);
    put_varint(&mut body, ops.len() as u64);
    for op in &ops {
        match *op {
            Op::Copy { offset, len } => {
                body.push(0);
                put_varint(&mut body, offset);
                put_varint(&mut body, len);
            }
            Op::Literal { len } => {
                body.push(1);
                put_varint(&mut body, len);
            }
        }
    }
    body.extend_from_slice(&literals);
    let mut encoder =
        zstd::stream::write::Encoder::new(Vec::new(), LEVEL).map_err(|e| e.to_string())?;
    encoder.include_checksum(true).map_err(|e| e.to_string())?;
    encoder.write_all(&body).map_err(|e| e.to_string())?;
    encoder.finish().map_err(|e| e.to_string())
}

pub(crate) fn decode(old: &[u8], payload: &[u8], new_len: usize) -> Result<Vec<u8>, String> {
    // A genuine body is the literals (≤ new_len) plus a few bytes per
    // chunk of at least MIN_CHUNK bytes; anything longer is refused while
    // decompressing.
    let limit = new_len + new_len / 4 + 4096;
    let mut body = Vec::new();
    let mut decoder = zstd::stream::read::Decoder::new(payload).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = decoder.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        if body.len() + n > limit {
            return Err("chunk list is longer than the artifact allows".into());
        }
        body.extend_from_slice(&buf[..n]);
    }
    let mut cursor = 0usize;
    let count = get_varint(&body, &mut cursor)?;
    let mut ops = Vec::new();
    for _ in 0..count {
        let tag = *body.get(cursor).ok_or("op list cut short")?;
        cursor += 1;
        match tag {
            0 => {
                let offset = get_varint(&body, &mut cursor)?;
                let len = get_varint(&body, &mut cursor)?;
                ops.push(Op::Copy { offset, len });
            }
            1 => ops.push(Op::Literal {
                len: get_varint(&body, &mut cursor)?,
            }),
            other => return Err(format!("unknown op tag {other}")),
        }
    }
    let mut literals = &body[cursor..];
    let mut out = Vec::with_capacity(new_len);
    for op in ops {
        match op {
            Op::Copy { offset, len } => {
                let end = offset.checked_add(len).ok_or("copy range overflows")?;
                if end > old.len() as u64 {
                    return Err("copy reaches past the end of the old artifact".into());
                }
                if out.len() as u64 + len > new_len as u64 {
                    return Err("ops produce more than the declared size".into());
                }
                out.extend_from_slice(&old[offset as usize..end as usize]);
            }
            Op::Literal { len } => {
                if len > literals.len() as u64 {
                    return Err("literal reaches past the end of the literals".into());
                }
                if out.len() as u64 + len > new_len as u64 {
                    return Err("ops produce more than the declared size".into());
                }
                let (take, rest) = literals.split_at(len as usize);
                out.extend_from_slice(take);
                literals = rest;
            }
        }
    }
    if !literals.is_empty() {
        return Err("literals left over after the last op".into());
    }
    Ok(out)
}

#[cfg(feature = "build")]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub(crate) fn get_varint(bytes: &[u8], cursor: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*cursor).ok_or("varint cut short")?;
        *cursor += 1;
        value |= u64::from(byte & 0x7f)
            .checked_shl(shift)
            .ok_or("varint overflows")?;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 64 bits".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips_edges() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut c = 0;
            assert_eq!(get_varint(&out, &mut c).unwrap(), v);
            assert_eq!(c, out.len());
        }
    }

    #[test]
    fn copy_past_old_end_is_refused() {
        let mut body = Vec::new();
        put_varint(&mut body, 1);
        body.push(0);
        put_varint(&mut body, 10);
        put_varint(&mut body, 10);
        let payload = zstd::bulk::compress(&body, 1).unwrap();
        let err = decode(&[0u8; 15], &payload, 10).unwrap_err();
        assert!(err.contains("past the end"), "{err}");
    }
}
