use std::io;

/// A `Vec` writer that refuses to grow past a limit: decoders of untrusted
/// payloads write through it, so a payload cannot make the client allocate
/// more than the artifact size the header declares (itself bounded by
/// `MAX_ARTIFACT_SIZE`).
pub(crate) struct BoundedVec {
    pub(crate) bytes: Vec<u8>,
    limit: usize,
}

impl BoundedVec {
    pub(crate) fn new(limit: usize) -> BoundedVec {
        BoundedVec {
            bytes: Vec::with_capacity(limit),
            limit,
        }
    }
}

impl io::Write for BoundedVec {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            return Err(io::Error::other(
                "output is longer than the declared artifact size",
            ));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
