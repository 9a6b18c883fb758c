//! `--offset N --length M`: uncompressed bytes [N, N+M) of a .gz. With an index, from
//! the last point at or before N, without inflating what comes before it; without
//! one, the caller inflates from the start through a [`Range`] writer.
//!
//! The first point's window is taken on trust, as gztool and rapidgzip take it (the
//! data before it is exactly what is not read); the index was vetted against the .gz
//! (`plan`), and each span read is checked to end at the next point, whose window must
//! equal the bytes just inflated. A failure is an error, never a silent wrong range;
//! written through a partial file (-o, FILE), nothing is left.

use std::io::{self, Write};

use super::plan::Plan;
use super::span::{SpanError, inflate_span};

/// Why a range could not be read with the index.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RangeError {
    #[error("{0}")]
    Index(String),
    #[error("{0}")]
    Write(io::Error),
}

/// Writes bytes [offset, offset + length) of the data to `out`, returning how many
/// (fewer when the data ends first).
pub(crate) fn extract(
    plan: &Plan,
    offset: u64,
    length: Option<u64>,
    out: &mut dyn Write,
) -> Result<u64, RangeError> {
    if offset >= plan.size() {
        return Ok(0);
    }
    let end = length.map_or(u64::MAX, |l| offset.saturating_add(l));
    let spans = plan.spans();
    let first = spans
        .iter()
        .rposition(|s| s.uncompressed <= offset)
        .unwrap_or(0);
    let mut range = Range::new(out, offset - spans[first].uncompressed, end - offset);
    let mut tail: Vec<u8> = Vec::new();
    for (k, span) in spans.iter().enumerate().skip(first) {
        if span.uncompressed >= end {
            break;
        }
        let window = plan
            .window(span)
            .map_err(|e| RangeError::Index(e.to_string()))?;
        if k == first {
            // The first span's window is trusted (it primes the inflater, as gztool
            // trusts it); it is also the history a short first span's successor is
            // checked against.
            keep_tail(&mut tail, &window);
        } else if !tail.ends_with(&window) {
            return Err(RangeError::Index(format!(
                "point {}'s window is not the data before it (the index is stale or of another file)",
                k + 1
            )));
        }
        let mut failed = None;
        let mut emit = |piece: bytes::Bytes| {
            if let Err(e) = range.write_all(&piece) {
                failed = Some(e);
                return false;
            }
            keep_tail(&mut tail, &piece);
            true
        };
        let done = inflate_span(
            plan.gz(),
            span.start,
            &window,
            span.len,
            span.end,
            &mut emit,
        );
        match (done, failed) {
            (_, Some(e)) => return Err(RangeError::Write(e)),
            (Err(SpanError::Cancelled), None) => unreachable!("emit never cancels unless failed"),
            (Err(e), None) => return Err(RangeError::Index(format!("span {}: {e}", k + 1))),
            (Ok(_), None) => {}
        }
    }
    range.flush().map_err(RangeError::Write)?;
    Ok(range.passed)
}

fn keep_tail(tail: &mut Vec<u8>, piece: &[u8]) {
    const WINDOW: usize = super::format::WINDOW;
    tail.extend_from_slice(&piece[piece.len().saturating_sub(WINDOW)..]);
    if tail.len() > 2 * WINDOW {
        tail.drain(..tail.len() - WINDOW);
    }
}

/// A writer that drops the first `skip` bytes, passes the next `take`, drops the rest.
pub(crate) struct Range<W> {
    inner: W,
    skip: u64,
    take: u64,
    pub passed: u64,
}

impl<W: Write> Range<W> {
    pub fn new(inner: W, skip: u64, take: u64) -> Self {
        Self {
            inner,
            skip,
            take,
            passed: 0,
        }
    }
}

impl<W: Write> Write for Range<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let skipped = self.skip.min(buf.len() as u64) as usize;
        self.skip -= skipped as u64;
        let rest = &buf[skipped..];
        let n = rest.len().min(self.take.min(usize::MAX as u64) as usize);
        self.inner.write_all(&rest[..n])?;
        self.take -= n as u64;
        self.passed += n as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_skips_takes_and_drops_across_writes() {
        let data: Vec<u8> = (0..=255).collect();
        for (skip, take) in [(0, 0), (0, 300), (10, 20), (100, 1000), (255, 1), (300, 5)] {
            let mut r = Range::new(Vec::new(), skip, take);
            for piece in data.chunks(7) {
                assert_eq!(r.write(piece).unwrap(), piece.len());
            }
            let want = &data[(skip as usize).min(256)..((skip + take) as usize).min(256)];
            assert_eq!(r.passed, want.len() as u64);
            assert_eq!(r.inner, want, "skip {skip} take {take}");
        }
    }
}
