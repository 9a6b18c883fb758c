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
    let mut input = Input::new(gz, start.compressed);
    let mut crc = crc32fast::Hasher::new();
    let mut produced = 0u64;
    let mut piece = vec![0u8; PIECE.min(len as usize)];
    let mut fill = 0usize;
    let mut empty_blocks = 0u32;
    let mut stalls = 0u32;
    loop {
        let room = (piece.len() - fill).min((len - produced) as usize);
        let data = input.data()?;
        // Z_BLOCK throughout: without it, inflate would read on past a block boundary
        // into the next block's header while waiting for output room.
        let step = z
            .run(data, &mut piece[fill..fill + room], true)
            .map_err(SpanError::Data)?;
        input.consume(step.consumed);
        crc.update(&piece[fill..fill + step.produced]);
        fill += step.produced;
        produced += step.produced as u64;
        if fill == piece.len() || (produced == len && fill > 0) {
            let next = vec![0u8; PIECE.min((len - produced) as usize)];
            if !emit(Bytes::from(std::mem::replace(&mut piece, next))) {
                return Err(SpanError::Cancelled);
            }
            fill = 0;
        }
        let at = input.position();
        if step.stream_end {
            return match end {
                End::Stream if produced == len => Ok(Finished {
                    crc: crc.finalize(),
                    len,
                    end: at,
                    whole: false,
                }),
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
        if produced < len {
            continue;
        }
        // Every byte is out: only block ends and empty blocks may remain before the end.
        if let End::Point { compressed, bits } = end {
            if z.at_block_boundary() && at == compressed && z.unused_bits() == bits {
                return Ok(Finished {
                    crc: crc.finalize(),
                    len,
                    end: at,
                    whole: false,
                });
            }
            if at > compressed {
                return Err(SpanError::Misaligned);
            }
        }
        empty_blocks += u32::from(z.at_block_boundary());
        if empty_blocks > MAX_EMPTY_BLOCKS {
            return Err(SpanError::Misaligned);
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
