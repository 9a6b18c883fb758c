//! The decoder's input: buffered, counting what was consumed (for offsets in messages
//! and sizes in `list`), able to look a few bytes ahead across a refill, which
//! `BufReader` cannot.

use std::io::{self, BufRead, Read};

use super::errors::DecodeError;

/// Bytes read per refill.
pub(crate) const BUFFER: usize = 256 << 10;

/// Reads what follows the last member to its end: how many bytes, and whether all
/// of them are zero.
pub(crate) fn count_rest(r: &mut impl BufRead) -> Result<(u64, bool), DecodeError> {
    let (mut len, mut zeros) = (0u64, true);
    loop {
        let buf = match r.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other.map_err(DecodeError::Read)?,
        };
        if buf.is_empty() {
            return Ok((len, zeros));
        }
        zeros = zeros && buf.iter().all(|&b| b == 0);
        let n = buf.len();
        r.consume(n);
        len += n as u64;
    }
}

/// Buffered input that counts what was consumed (for offsets in messages) and can
/// look a few bytes ahead across a refill, which `BufReader` cannot.
pub(crate) struct Input<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    pub(crate) consumed: u64,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(inner: R) -> Self {
        Input {
            inner,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            consumed: 0,
        }
    }

    /// Up to `n` bytes ahead, fewer only at the end of the input.
    pub(crate) fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.end - self.start < n {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            while self.end < n {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(0) => break,
                    Ok(got) => self.end += got,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(&self.buf[self.start..self.end.min(self.start + n)])
    }
}

impl<R: Read> Input<R> {
    /// Fills `out` as far as the input goes: fewer bytes only at its end.
    pub(crate) fn read_up_to(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            match self.read(&mut out[n..])? {
                0 => break,
                got => n += got,
            }
        }
        Ok(n)
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            // Emptied first: after a failed read, nothing stale may look buffered.
            (self.start, self.end) = (0, 0);
            self.end = loop {
                match self.inner.read(&mut self.buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other?,
                }
            };
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.consumed += n as u64;
    }
}
