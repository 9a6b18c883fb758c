//! Inflating one span of a .gz: from an index point (a bit position and the window
//! before it) for exactly the number of bytes up to the next point, then proving the
//! compressed position lines up with that point: inflation sits right after an
//! end-of-block code, at the point's byte and bit, not in the final block. The last
//! span instead ends with the deflate stream, whose end is where the trailer lies.
//! Output leaves in bounded pieces, each with its CRC-32 folded in here, on the
//! inflating thread. [`Inflater`] first tries the whole span at once with libdeflate
//! (`whole`, its output in one piece) when it fits a memory cap, and comes back here
//! when that is refused.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

use super::buffers::Buffers;
use super::inflate::RawInflate;
use super::whole;

/// Bytes read from the .gz at a time.
const INPUT: usize = 128 << 10;
/// Bytes of output handed on at a time.
pub(crate) const PIECE: usize = 256 << 10;
/// Block boundaries crossed after the last byte of a span, looking for its end point:
/// an empty stored block (a sync flush) or two is all a writer puts there.
const MAX_EMPTY_BLOCKS: u32 = 64;

/// Where a span starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Start {
    /// First whole byte; with `bits`, the span starts in the byte before it.
    pub compressed: u64,
    pub bits: u8,
}

/// Where a span must end, once its bytes are out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// At the next point: right after an end-of-block code, at this byte and bit.
    Point { compressed: u64, bits: u8 },
    /// With the end of the deflate stream (the member's trailer follows).
    Stream,
}

/// A span done and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Finished {
    pub crc: u32,
    pub len: u64,
    /// Offset in the .gz just after the span's last bit (rounded up to the byte): for
    /// [`End::Stream`], where the trailer starts.
    pub end: u64,
    /// Inflated whole by libdeflate (`whole`), not streamed.
    pub whole: bool,
}

/// Why a span could not be inflated as its index says. Each is a reason to distrust
/// the index (or, for the data itself, one the one-thread path will name in gzip's
/// words).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpanError {
    #[error("cannot read the compressed data: {0}")]
    Read(#[from] std::io::Error),
    #[error("the compressed data ends before the index's next point")]
    Truncated,
    #[error("inflating from the index's point fails ({0})")]
    Data(String),
    #[error("the compressed stream ends before the index's next point")]
    EarlyEnd,
    #[error("the data does not line up with the index's next point")]
    Misaligned,
    #[error("cancelled")]
    Cancelled,
}

/// The .gz a span is read from, with its length as the plan vetted it (the last span's
/// trailer is its last 8 bytes), not as the file may have become since.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gz<'a> {
    pub file: &'a File,
    pub len: u64,
}

/// One thread's span inflater: as [`inflate_span`], but whole with libdeflate when the
/// span can be and holds at most `whole_cap` bytes of memory that way; streamed when
/// not, or when refused. Kept from span to span for the buffers it reuses.
pub(crate) struct Inflater {
    whole: whole::Scratch,
    whole_cap: u64,
}

impl Inflater {
    /// Output buffers for whole spans come from (and go back to) `buffers`.
    pub fn new(whole_cap: u64, buffers: Arc<Buffers>) -> Inflater {
        Inflater {
            whole: whole::Scratch::new(buffers),
            whole_cap,
        }
    }

    pub fn inflate(
        &mut self,
        Gz {
            file: gz,
            len: gz_len,
        }: Gz,
        start: Start,
        window: &[u8],
        len: u64,
        end: End,
        emit: &mut dyn FnMut(Bytes) -> bool,
    ) -> Result<Finished, SpanError> {
        if let Some(how) = whole::plan(start, window.len(), len, end, gz_len)
            && how.footprint <= self.whole_cap
            && let Some(done) = self.whole.inflate(gz, start, window, len, how, emit)?
        {
            return Ok(done);
        }
        // Its pieces fill its share: no whole span's buffer may wait meanwhile.
        let _streamed = self.whole.buffers().streaming();
        inflate_span(gz, start, window, len, end, emit)
    }
}

/// Inflates `len` bytes from `start` (primed with `window`), handing each piece to
/// `emit` (which returns false to stop: the reader is gone), then checks `end`.
pub(crate) fn inflate_span(
    gz: &File,
    start: Start,
    window: &[u8],
    len: u64,
    end: End,
    emit: &mut dyn FnMut(Bytes) -> bool,
) -> Result<Finished, SpanError> {
    let mut z = primed(gz, start, window)?;
    let mut input = Input::new(gz, start.compressed);
    let mut out = Pieces::new(len);
    let mut empty_blocks = 0u32;
    let mut stalls = 0u32;
    loop {
        let data = input.data()?;
        // Z_BLOCK throughout: without it, inflate would read on past a block boundary
        // into the next block's header while waiting for output room.
        let step = z.run(data, out.room(), true).map_err(SpanError::Data)?;
        input.consume(step.consumed);
        out.took(step.produced, emit)?;
        let at = input.position();
        if step.stream_end {
            return match end {
                End::Stream if out.produced == len => Ok(out.finished(at)),
                _ => Err(SpanError::EarlyEnd),
            };
        }
        // Two calls in a row that move nothing: inflate needs what it cannot have.
        stalls = if step.consumed == 0 && step.produced == 0 {
            stalls + 1
        } else {
            0
        };
        if stalls >= 2 {
            return Err(match input.at_eof() {
                true => SpanError::Truncated,
                // Output room it was not given: more data than the index says.
                false => SpanError::Misaligned,
            });
        }
        if out.produced < len {
            continue;
        }
        // Every byte is out: only block ends and empty blocks may remain before the end.
        if reached(&z, end, at)? {
            return Ok(out.finished(at));
        }
        empty_blocks += u32::from(z.at_block_boundary());
        if empty_blocks > MAX_EMPTY_BLOCKS {
            return Err(SpanError::Misaligned);
        }
    }
}

/// An inflater starting at `start`, mid-byte if it must, with `window` as history.
fn primed(gz: &File, start: Start, window: &[u8]) -> Result<RawInflate, SpanError> {
    let mut z = RawInflate::new();
    if start.bits > 0 {
        let mut byte = [0u8; 1];
        gz.read_exact_at(&mut byte, start.compressed - 1)?;
        if !z.prime(start.bits, byte[0]) {
            return Err(SpanError::Data("cannot prime the first bits".into()));
        }
    }
    if !z.set_dictionary(window) {
        return Err(SpanError::Data("the window is refused".into()));
    }
    Ok(z)
}

/// With all its bytes out, whether the span ends exactly at its next point: at a
/// block boundary, at that byte and bit. Past it, it never will.
fn reached(z: &RawInflate, end: End, at: u64) -> Result<bool, SpanError> {
    let End::Point { compressed, bits } = end else {
        return Ok(false);
    };
    if z.at_block_boundary() && at == compressed && z.unused_bits() == bits {
        return Ok(true);
    }
    match at > compressed {
        true => Err(SpanError::Misaligned),
        false => Ok(false),
    }
}

/// A span's output, filled a piece at a time and handed on when full, with its
/// CRC-32.
struct Pieces {
    piece: Vec<u8>,
    fill: usize,
    produced: u64,
    len: u64,
    crc: crc32fast::Hasher,
}

impl Pieces {
    fn new(len: u64) -> Self {
        Pieces {
            piece: vec![0u8; PIECE.min(len as usize)],
            fill: 0,
            produced: 0,
            len,
            crc: crc32fast::Hasher::new(),
        }
    }

    /// Where inflate may write: the piece's room, never past the span's length.
    fn room(&mut self) -> &mut [u8] {
        let room = (self.piece.len() - self.fill).min((self.len - self.produced) as usize);
        &mut self.piece[self.fill..self.fill + room]
    }

    /// `n` bytes were written into the room; a full piece (or the last) goes on.
    fn took(&mut self, n: usize, emit: &mut dyn FnMut(Bytes) -> bool) -> Result<(), SpanError> {
        self.crc.update(&self.piece[self.fill..self.fill + n]);
        self.fill += n;
        self.produced += n as u64;
        if self.fill == self.piece.len() || (self.produced == self.len && self.fill > 0) {
            let next = vec![0u8; PIECE.min((self.len - self.produced) as usize)];
            if !emit(Bytes::from(std::mem::replace(&mut self.piece, next))) {
                return Err(SpanError::Cancelled);
            }
            self.fill = 0;
        }
        Ok(())
    }

    fn finished(self, end: u64) -> Finished {
        Finished {
            crc: self.crc.finalize(),
            len: self.len,
            end,
            whole: false,
        }
    }
}

/// The .gz read forward from an offset, a buffer at a time.
struct Input<'a> {
    gz: &'a File,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[end]`.
    next: u64,
    eof: bool,
}

impl<'a> Input<'a> {
    fn new(gz: &'a File, from: u64) -> Self {
        Self {
            gz,
            buf: vec![0; INPUT],
            start: 0,
            end: 0,
            next: from,
            eof: false,
        }
    }

    fn data(&mut self) -> std::io::Result<&[u8]> {
        if self.start == self.end && !self.eof {
            let n = loop {
                match self.gz.read_at(&mut self.buf, self.next) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            self.start = 0;
            self.end = n;
            self.next += n as u64;
            self.eof = n == 0;
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// File offset of the next byte inflate has not taken.
    fn position(&self) -> u64 {
        self.next - (self.end - self.start) as u64
    }

    fn at_eof(&self) -> bool {
        self.eof && self.start == self.end
    }
}

#[cfg(test)]
#[path = "span_tests.rs"]
mod tests;
