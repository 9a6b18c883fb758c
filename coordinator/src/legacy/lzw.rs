//! compress's .Z format (LZW), read as gzip's unlzw reads it: a flags byte (the
//! largest code width, 9 to 16 bits, and block mode), then codes packed LSB first,
//! growing from 9 bits as the table fills; in block mode code 256 clears the table.
//! compress writes codes in groups of eight (a group is as many bytes as a code has
//! bits), and when the width changes or the table is cleared it skips the rest of the
//! group: so does this reader, or every code after the first change is misread. The
//! data ends with the input; a last partial code is dropped, as gzip drops it.
//!
//! Memory is fixed: 65536 prefixes and suffixes and a stack as deep as the longest
//! string, allocated once per member. weezl (the well-kept LZW crate) is not used: it
//! stops at 12-bit codes and reads no groups.

use std::io::{BufRead, Read};

use super::{LegacyError, Out, byte};
use crate::gzip::DecodeError;
use crate::gzip::input::Input;

pub(crate) const MAGIC: [u8; 2] = [0x1f, 0x9d];
/// The widest code gzip (and compress) read.
const BITS: u8 = 16;
const INIT_BITS: u32 = 9;
const BLOCK_MODE: u8 = 0x80;
const BIT_MASK: u8 = 0x1f;
const RESERVED: u8 = 0x60;
const CLEAR: u32 = 256;
const FIRST: u32 = 257;
const TABLE: usize = 1 << BITS;

#[derive(Debug, thiserror::Error)]
pub(crate) enum LzwError {
    #[error("unexpected end of file: the header ends before its flags byte")]
    Truncated,
    #[error("compressed with {0} bits, can only handle {BITS} bits")]
    TooManyBits(u8),
    #[error("corrupt input: code {code} near byte {offset} is not in the table")]
    Corrupt { code: u32, offset: u64 },
}

/// Decodes one .Z member, its magic already read, to the end of the input. Returns
/// the reserved flag bits when some are set (gzip warns and reads on).
pub(crate) fn decode<R: Read, W: std::io::Write + ?Sized>(
    r: &mut Input<R>,
    member: u64,
    out: &mut Out<'_, W>,
) -> Result<Option<u8>, DecodeError> {
    r.consume(MAGIC.len());
    let flags = byte(r, member, || LzwError::Truncated)?;
    let max_bits = flags & BIT_MASK;
    if max_bits > BITS {
        return Err(LegacyError::from(LzwError::TooManyBits(max_bits)).at(member));
    }
    let mut state = State::new(max_bits, flags & BLOCK_MODE != 0);
    let mut codes = Codes::default();
    while let Some(code) = state.next_code(r, &mut codes)? {
        state.expand(code, out).map_err(|e| match e {
            Expand::Corrupt => LegacyError::from(LzwError::Corrupt {
                code,
                offset: r.consumed,
            })
            .at(member),
            Expand::Out(e) => e,
        })?;
    }
    Ok(Some(flags & RESERVED).filter(|&f| f != 0))
}

/// Why a code could not be expanded.
enum Expand {
    Corrupt,
    Out(DecodeError),
}

/// The decoder between codes: the table and the widths.
struct State {
    prefix: Box<[u16]>,
    suffix: Box<[u8]>,
    /// Where a string is built backwards before it is written.
    stack: Box<[u8]>,
    block_mode: bool,
    max_bits: u8,
    /// 1 << max_bits: the table never grows past it.
    max_max_code: u32,
    bits: u32,
    max_code: u32,
    free: u32,
    /// The previous code and the first byte of its string (none before the first).
    old: Option<(u32, u8)>,
}

impl State {
    fn new(max_bits: u8, block_mode: bool) -> State {
        let mut suffix = vec![0u8; TABLE].into_boxed_slice();
        for (i, s) in suffix.iter_mut().take(256).enumerate() {
            *s = i as u8;
        }
        State {
            prefix: vec![0u16; TABLE].into_boxed_slice(),
            suffix,
            stack: vec![0u8; TABLE + 2].into_boxed_slice(),
            block_mode,
            max_bits,
            max_max_code: 1 << max_bits,
            bits: INIT_BITS,
            max_code: (1 << INIT_BITS) - 1,
            free: if block_mode { FIRST } else { 256 },
            old: None,
        }
    }

    /// The next code to expand, after the width changes and clears before it.
    fn next_code<R: Read>(
        &mut self,
        r: &mut Input<R>,
        codes: &mut Codes,
    ) -> Result<Option<u32>, DecodeError> {
        loop {
            if self.free > self.max_code {
                // The table outgrew the width: the rest of the group is skipped, as
                // gzip's unlzw skips it. (gzip goes past max_bits for 9: so do we.)
                codes.skip_group();
                self.bits += 1;
                self.max_code = match self.bits == u32::from(self.max_bits) {
                    true => self.max_max_code,
                    false => (1 << self.bits) - 1,
                };
                continue;
            }
            let Some(code) = codes.next(r, self.bits)? else {
                return Ok(None);
            };
            if self.old.is_some() && code == CLEAR && self.block_mode {
                codes.skip_group();
                self.free = FIRST - 1;
                self.bits = INIT_BITS;
                self.max_code = (1 << INIT_BITS) - 1;
                continue;
            }
            return Ok(Some(code));
        }
    }

    /// Writes the string of `code` and adds the table entry it implies.
    fn expand<W: std::io::Write + ?Sized>(
        &mut self,
        code: u32,
        out: &mut Out<'_, W>,
    ) -> Result<(), Expand> {
        let Some((old, first)) = self.old else {
            if code >= 256 {
                return Err(Expand::Corrupt);
            }
            self.old = Some((code, code as u8));
            return out.byte(code as u8).map_err(Expand::Out);
        };
        let mut top = self.stack.len();
        let mut c = code;
        if code >= self.free {
            // KwKwK: the code being defined by this very step.
            if code > self.free {
                return Err(Expand::Corrupt);
            }
            top -= 1;
            self.stack[top] = first;
            c = old;
        }
        while c >= 256 {
            // Each entry's prefix is an older entry, so a chain is shorter than the
            // table; a hostile one is cut off there all the same.
            if top < 2 || c as usize >= TABLE {
                return Err(Expand::Corrupt);
            }
            top -= 1;
            self.stack[top] = self.suffix[c as usize];
            c = u32::from(self.prefix[c as usize]);
        }
        let first = c as u8;
        top -= 1;
        self.stack[top] = first;
        out.push(&self.stack[top..]).map_err(Expand::Out)?;
        if self.free < self.max_max_code && (self.free as usize) < TABLE {
            self.prefix[self.free as usize] = old as u16;
            self.suffix[self.free as usize] = first;
            self.free += 1;
        }
        self.old = Some((code, first));
        Ok(())
    }
}

/// Codes as compress groups them: `bits` bytes hold eight codes of `bits` bits.
#[derive(Default)]
struct Codes {
    /// The group being read, and two bytes of slack for reading a code as 24 bits.
    group: [u8; BITS as usize + 2],
    /// Bytes in the group (fewer than a whole group only at the end of the input).
    len: usize,
    /// Bits of the group read.
    at: usize,
    eof: bool,
}

impl Codes {
    fn next<R: Read>(&mut self, r: &mut Input<R>, bits: u32) -> Result<Option<u32>, DecodeError> {
        let bits = bits as usize;
        if self.at + bits > self.len * 8 {
            if self.eof || bits > BITS as usize {
                return Ok(None);
            }
            self.group = [0; BITS as usize + 2];
            self.len = r
                .read_up_to(&mut self.group[..bits])
                .map_err(DecodeError::Read)?;
            self.eof = self.len < bits;
            self.at = 0;
            if bits > self.len * 8 {
                return Ok(None);
            }
        }
        let (at, shift) = (self.at / 8, self.at % 8);
        let word = u32::from_le_bytes([self.group[at], self.group[at + 1], self.group[at + 2], 0]);
        self.at += bits;
        Ok(Some((word >> shift) & ((1 << bits) - 1)))
    }

    /// The rest of the group is never read.
    fn skip_group(&mut self) {
        self.at = self.len * 8;
    }
}

#[cfg(test)]
#[path = "lzw_tests.rs"]
mod tests;
