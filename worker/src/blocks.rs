//! Walks the blocks of raw deflate data (RFC 1951) without inflating it: where each
//! block starts, its type, whether it is marked final, and where the data ends, to
//! the bit. And the one edit gzfleet needs from that: [`end_open`], which turns data
//! that ends with a final block into data that ends open and byte-aligned with a sync
//! marker, so it can be followed by more deflate blocks.
//!
//! Used by `gzfleet test` to say where a damaged member's blocks break, and by the
//! tests as the reference for the libdeflate engine, whose patched compressor ends
//! its chunks open itself (it once used [`end_open`], which costs a second decoding
//! of every code). Only the block structure is decoded: Huffman
//! codes and extra bits are read and checked, no output is produced and distances are
//! not checked against history (the coordinator's checks and gzip's CRC do that).
//! Hand-written because no crate exposes block boundaries: inflaters consume them.

/// A deflate block's type (BTYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Stored,
    Fixed,
    Dynamic,
}

/// One block: where its 3-bit header starts (bits from the start of the data, least
/// significant bit of each byte first, as deflate packs them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub start_bit: u64,
    pub kind: BlockKind,
    pub last: bool,
}

/// The blocks up to and including the first final one, and the bit after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    pub blocks: Vec<Block>,
    pub end_bit: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("deflate data ends inside a block (at bit {0})")]
    Truncated(u64),
    #[error("invalid deflate block type 3 at bit {0}")]
    BadType(u64),
    #[error("stored block at bit {0}: its length and its complement disagree")]
    BadStoredLength(u64),
    #[error("invalid Huffman code table in the block at bit {0}")]
    BadTable(u64),
    #[error("invalid code in the block at bit {0}")]
    BadCode(u64),
    #[error("deflate data has no final block")]
    NoFinal,
}

/// Walks `data` from its first bit until the end of its first final block.
pub fn walk(data: &[u8]) -> Result<Walk, BlockError> {
    let mut blocks = Vec::new();
    let end_bit = walk_with(data, |b| blocks.push(b))?;
    Ok(Walk { blocks, end_bit })
}

/// As [`walk`], keeping only the final block and where it ends: memory stays fixed
/// however many blocks there are (a hostile stream of empty blocks has one every 10
/// bits).
pub fn last_block(data: &[u8]) -> Result<(Block, u64), BlockError> {
    let mut last = None;
    let end_bit = walk_with(data, |b| last = Some(b))?;
    Ok((last.ok_or(BlockError::NoFinal)?, end_bit))
}

/// The walk, handing each block to `seen`; returns the bit after the final block.
fn walk_with(data: &[u8], mut seen: impl FnMut(Block)) -> Result<u64, BlockError> {
    let mut bits = Bits::new(data);
    loop {
        let start_bit = bits.pos();
        let last = bits.take(1)? == 1;
        let kind = match bits.take(2)? {
            0 => BlockKind::Stored,
            1 => BlockKind::Fixed,
            2 => BlockKind::Dynamic,
            _ => return Err(BlockError::BadType(start_bit)),
        };
        match kind {
            BlockKind::Stored => skip_stored(&mut bits, start_bit)?,
            BlockKind::Fixed => {
                let (litlen, dist) = fixed_tables();
                skip_codes(&mut bits, litlen, dist, start_bit)?;
            }
            BlockKind::Dynamic => {
                let (litlen, dist) = read_tables(&mut bits, start_bit)?;
                skip_codes(&mut bits, &litlen, &dist, start_bit)?;
            }
        }
        seen(Block {
            start_bit,
            kind,
            last,
        });
        if last {
            return Ok(bits.pos());
        }
        if bits.pos() >= data.len() as u64 * 8 {
            return Err(BlockError::NoFinal);
        }
    }
}

/// Makes deflate data that ends with a final block end open instead: clears the final
/// block's BFINAL bit, drops anything after it, and appends an empty non-final stored
/// block (3 header bits, padding to the byte, `00 00 ff ff`), exactly what zlib's sync
/// flush writes. The result inflates to the same bytes and may be followed by more
/// blocks, or by a final empty block to close it.
pub fn end_open(deflate: &mut Vec<u8>) -> Result<(), BlockError> {
    let (last, end_bit) = last_block(deflate)?;
    let at = last.start_bit;
    deflate[(at / 8) as usize] &= !(1u8 << (at % 8));
    let used = (end_bit % 8) as u32;
    deflate.truncate(end_bit.div_ceil(8) as usize);
    if used != 0 {
        // Padding bits after the final block carry no meaning; the marker's header
        // bits (all zero) go there.
        let tail = deflate.last_mut().expect("a block takes at least 3 bits");
        *tail &= (1u8 << used) - 1;
    }
    // The header needs 3 bits: in the last byte if 3 remain, else in a new one.
    if used == 0 || used > 5 {
        deflate.push(0);
    }
    deflate.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    Ok(())
}

/// Reads bits least-significant first, as deflate packs them, through a 64-bit
/// buffer refilled a word at a time: the walk is on the engine's hot path (it runs
/// over every chunk libdeflate makes), so bits are not fetched one slice at a time.
struct Bits<'a> {
    data: &'a [u8],
    /// The next byte to load into `buf`; past the end, zeros are loaded and counted.
    next: usize,
    buf: u64,
    /// Valid bits in `buf`.
    count: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits {
            data,
            next: 0,
            buf: 0,
            count: 0,
        }
    }

    /// Bits consumed so far.
    fn pos(&self) -> u64 {
        self.next as u64 * 8 - u64::from(self.count)
    }

    /// At least [`Bits::REFILLED`] bits in `buf` (zeros past the end: [`Bits::check`]
    /// catches their use).
    #[inline(always)]
    fn refill(&mut self) {
        if self.count >= Self::REFILLED {
            return;
        }
        if let Some(word) = self.data.get(self.next..self.next + 8) {
            let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            self.buf |= word << self.count;
            let bytes = (63 - self.count) / 8;
            self.next += bytes as usize;
            self.count += bytes * 8;
        } else {
            while self.count <= 56 {
                let byte = self.data.get(self.next).copied().unwrap_or(0);
                self.buf |= u64::from(byte) << self.count;
                self.next += 1;
                self.count += 8;
            }
        }
    }

    /// The most one step of a walk reads: a length code (15 bits) and its extra bits
    /// (5), a distance code (15) and its extra bits (13). Refilling once per step
    /// instead of once per code is most of the walk's speed.
    const REFILLED: u32 = 48;

    /// The buffered bits; [`Bits::refill`] first.
    #[inline(always)]
    fn peek(&self) -> u64 {
        self.buf
    }

    /// Infallible, so the per-symbol path has no error branch: running past the end
    /// only consumes padding zeros, which [`Bits::check`] reports.
    #[inline(always)]
    fn consume(&mut self, n: u32) {
        debug_assert!(n <= self.count);
        self.buf >>= n;
        self.count -= n;
    }

    /// Fails once more bits were consumed than the data has.
    #[inline(always)]
    fn check(&self) -> Result<(), BlockError> {
        if self.next > self.data.len() && self.pos() > self.data.len() as u64 * 8 {
            return Err(BlockError::Truncated(self.data.len() as u64 * 8));
        }
        Ok(())
    }

    fn take(&mut self, n: u32) -> Result<u32, BlockError> {
        debug_assert!(n <= 32);
        self.refill();
        let v = (self.peek() & ((1u64 << n) - 1)) as u32;
        self.consume(n);
        self.check()?;
        Ok(v)
    }

    /// Skips `n` bits, any number (a stored block's bytes).
    fn skip(&mut self, n: u64) -> Result<(), BlockError> {
        let pos = self.pos() + n;
        if pos > self.data.len() as u64 * 8 {
            return Err(BlockError::Truncated(self.data.len() as u64 * 8));
        }
        self.next = (pos / 8) as usize;
        self.buf = 0;
        self.count = 0;
        self.refill();
        self.consume((pos % 8) as u32);
        Ok(())
    }
}

fn skip_stored(bits: &mut Bits<'_>, start: u64) -> Result<(), BlockError> {
    let pad = ((8 - bits.pos() % 8) % 8) as u32;
    bits.take(pad)?;
    let len = bits.take(16)?;
    let nlen = bits.take(16)?;
    if len != !nlen & 0xffff {
        return Err(BlockError::BadStoredLength(start));
    }
    bits.skip(u64::from(len) * 8)
}

/// A canonical Huffman code as lookup tables indexed by the next input bits: a
/// primary table of up to [`PRIMARY_BITS`] bits (small enough to stay in L1), and for
/// longer codes a subtable per primary entry they share. Entries are `symbol << 4 |
/// length`, [`LONG`] plus a subtable number in the primary table, 0 where no code
/// matches.
struct Table {
    primary_bits: u32,
    /// Bits the subtables index, past the primary ones.
    sub_bits: u32,
    primary: Vec<u16>,
    long: Vec<u16>,
}

const PRIMARY_BITS: u32 = 10;
const LONG: u16 = 0x8000;

impl Table {
    /// From code lengths (0: symbol unused). Over-subscribed codes are refused;
    /// incomplete ones are allowed (RFC 1951 permits a distance code of one symbol)
    /// and a lookup of an unassigned code fails.
    fn new(lengths: &[u8]) -> Option<Table> {
        let max = u32::from(*lengths.iter().max()?);
        let mut count = [0u32; 16];
        for &l in lengths {
            count[l as usize] += 1;
        }
        count[0] = 0;
        let mut next = [0u32; 16];
        let mut code = 0u32;
        for len in 1..16 {
            code = (code + count[len - 1]) << 1;
            next[len] = code;
            if code + count[len] > 1 << len {
                return None;
            }
        }
        let primary_bits = max.min(PRIMARY_BITS);
        let sub_bits = max - primary_bits;
        let mut primary = vec![0u16; 1 << primary_bits];
        let mut long = Vec::new();
        for (symbol, &len) in lengths.iter().enumerate() {
            if len == 0 {
                continue;
            }
            let len = u32::from(len);
            let code = next[len as usize];
            next[len as usize] += 1;
            // Codes are sent most-significant bit first: reverse to index by input bits.
            let reversed = code.reverse_bits() >> (32 - len);
            let entry = ((symbol as u16) << 4) | len as u16;
            if len <= primary_bits {
                let mut i = reversed;
                while i < 1 << primary_bits {
                    primary[i as usize] = entry;
                    i += 1 << len;
                }
                continue;
            }
            let prefix = (reversed & ((1 << primary_bits) - 1)) as usize;
            if primary[prefix] & LONG == 0 {
                primary[prefix] = LONG | (long.len() >> sub_bits) as u16;
                long.resize(long.len() + (1 << sub_bits), 0);
            }
            let base = usize::from(primary[prefix] & !LONG) << sub_bits;
            let mut i = reversed >> primary_bits;
            while i < 1 << sub_bits {
                long[base + i as usize] = entry;
                i += 1 << (len - primary_bits);
            }
        }
        Some(Table {
            primary_bits,
            sub_bits,
            primary,
            long,
        })
    }

    #[inline(always)]
    fn decode(&self, bits: &mut Bits<'_>, block: u64) -> Result<u16, BlockError> {
        let input = bits.peek();
        let mut entry = self.primary[(input & ((1 << self.primary_bits) - 1)) as usize];
        if entry & LONG != 0 {
            let base = usize::from(entry & !LONG) << self.sub_bits;
            let sub = (input >> self.primary_bits) & ((1 << self.sub_bits) - 1);
            entry = self.long[base + sub as usize];
        }
        if entry == 0 {
            return Err(BlockError::BadCode(block));
        }
        bits.consume(u32::from(entry & 15));
        Ok(entry >> 4)
    }
}

/// Extra bits of length symbols 257..=285 and of distance symbols 0..=29.
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

fn fixed_tables() -> &'static (Table, Table) {
    static FIXED: std::sync::OnceLock<(Table, Table)> = std::sync::OnceLock::new();
    FIXED.get_or_init(|| {
        let mut litlen = [8u8; 288];
        litlen[144..256].fill(9);
        litlen[256..280].fill(7);
        // Distance symbols 30 and 31 have codes but are invalid: left out, they fail.
        let dist = [5u8; 30];
        (Table::new(&litlen).unwrap(), Table::new(&dist).unwrap())
    })
}

/// A dynamic block's header: the code-length code, then the literal/length and
/// distance code lengths it encodes.
fn read_tables(bits: &mut Bits<'_>, start: u64) -> Result<(Table, Table), BlockError> {
    const ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    let hlit = bits.take(5)? as usize + 257;
    let hdist = bits.take(5)? as usize + 1;
    let hclen = bits.take(4)? as usize + 4;
    if hlit > 286 || hdist > 30 {
        return Err(BlockError::BadTable(start));
    }
    let mut cl = [0u8; 19];
    for &i in &ORDER[..hclen] {
        cl[i] = bits.take(3)? as u8;
    }
    let cl = Table::new(&cl).ok_or(BlockError::BadTable(start))?;
    let mut lengths = vec![0u8; hlit + hdist];
    let mut i = 0;
    while i < lengths.len() {
        bits.refill();
        let sym = cl.decode(bits, start)?;
        let (value, repeat) = match sym {
            0..=15 => (sym as u8, 1),
            16 => match i {
                0 => return Err(BlockError::BadTable(start)),
                _ => (lengths[i - 1], 3 + bits.take(2)? as usize),
            },
            17 => (0, 3 + bits.take(3)? as usize),
            _ => (0, 11 + bits.take(7)? as usize),
        };
        if i + repeat > lengths.len() {
            return Err(BlockError::BadTable(start));
        }
        lengths[i..i + repeat].fill(value);
        i += repeat;
    }
    if lengths[256] == 0 {
        // No end-of-block code: the block could never end.
        return Err(BlockError::BadTable(start));
    }
    let litlen = Table::new(&lengths[..hlit]).ok_or(BlockError::BadTable(start))?;
    let dist = Table::new(&lengths[hlit..]).ok_or(BlockError::BadTable(start))?;
    Ok((litlen, dist))
}

fn skip_codes(
    bits: &mut Bits<'_>,
    litlen: &Table,
    dist: &Table,
    start: u64,
) -> Result<(), BlockError> {
    loop {
        // Past the end only padding zeros are read, which could decode forever.
        bits.check()?;
        bits.refill();
        let sym = litlen.decode(bits, start)?;
        match sym {
            0..=255 => {}
            256 => return bits.check(),
            257..=285 => {
                bits.consume(u32::from(LENGTH_EXTRA[usize::from(sym - 257)]));
                let d = dist.decode(bits, start)?;
                let extra = DIST_EXTRA
                    .get(usize::from(d))
                    .ok_or(BlockError::BadCode(start))?;
                bits.consume(u32::from(*extra));
            }
            _ => return Err(BlockError::BadCode(start)),
        }
    }
}

#[cfg(test)]
#[path = "blocks_tests.rs"]
mod tests;
