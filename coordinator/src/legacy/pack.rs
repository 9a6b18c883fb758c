//! pack's .z format (System V pack), read as gzip's unpack reads it: after the magic,
//! the original length (4 bytes, big-endian), the longest code length (1 to 25), the
//! number of leaves at each length (the last offset by 2, the end-of-block code being
//! implicit), the leaves' bytes in order of length; then Huffman codes, most
//! significant bit first, whose codes at each length are the highest values (the
//! lower ones lead to longer codes), up to the end-of-block code: the highest code of
//! the longest length. The length read must be the one stored.
//!
//! Memory is fixed: 256 leaves and a 4096-entry table for codes of up to 12 bits.
//! gzip indexes its tables with whatever a hostile header implies; here every index is
//! checked, and what would fall outside is a corrupt member.

use std::io::{BufRead, Read, Write};

use super::{LegacyError, Out, byte};
use crate::gzip::DecodeError;
use crate::gzip::input::Input;

pub(crate) const MAGIC: [u8; 2] = [0x1f, 0x1e];
const MAX_BITLEN: usize = 25;
/// Codes up to this long are decoded by table.
const MAX_PEEK: usize = 12;

#[derive(Debug, thiserror::Error)]
pub(crate) enum PackError {
    #[error("unexpected end of file")]
    Truncated,
    #[error("invalid compressed data -- Huffman code bit length out of range")]
    BitLength,
    #[error("too many leaves in Huffman tree")]
    TooManyLeaves,
    #[error("too few leaves in Huffman tree")]
    TooFewLeaves,
    #[error("invalid compressed data: a code that is in no leaf")]
    NoLeaf,
    #[error("invalid compressed data--length error: {stored} bytes stored, {actual} decoded")]
    Length { stored: u32, actual: u64 },
}

/// The Huffman tree, as pack stores it and gzip rebuilds it.
struct Tree {
    max_len: usize,
    leaves: [u32; MAX_BITLEN + 1],
    parents: [u32; MAX_BITLEN + 1],
    /// Where each length's leaves start in `literal`, less its parents' count.
    lit_base: [i64; MAX_BITLEN + 1],
    literal: [u8; 256],
    /// Literals read (the end-of-block code has none).
    literals: usize,
    peek_bits: usize,
    /// For each `peek_bits`-bit value, the length of the leaf it starts with (0: longer).
    prefix_len: [u8; 1 << MAX_PEEK],
}

/// Decodes one pack member, its magic already read, into `out`.
pub(crate) fn decode<R: Read, W: Write + ?Sized>(
    r: &mut Input<R>,
    member: u64,
    out: &mut Out<'_, W>,
) -> Result<(), DecodeError> {
    r.consume(MAGIC.len());
    let fail = |e: PackError| LegacyError::from(e).at(member);
    let mut stored = 0u32;
    for _ in 0..4 {
        stored = stored << 8 | u32::from(next(r, member)?);
    }
    let mut tree = read_tree(r, member)?;
    tree.build().map_err(fail)?;
    let before = out.len();
    let mut bits = Bits::default();
    let eob = tree.leaves[tree.max_len] - 1;
    loop {
        let (code, len) = tree.code(r, member, &mut bits)?;
        if code == eob && len == tree.max_len {
            break;
        }
        let at = i64::from(code) + tree.lit_base[len];
        match usize::try_from(at).ok().filter(|&i| i < tree.literals) {
            Some(i) => out.byte(tree.literal[i])?,
            None => return Err(fail(PackError::NoLeaf)),
        }
        bits.valid -= len as u32;
    }
    let actual = out.len() - before;
    if u64::from(stored) != actual & 0xffff_ffff {
        return Err(fail(PackError::Length { stored, actual }));
    }
    Ok(())
}

fn next<R: Read>(r: &mut Input<R>, member: u64) -> Result<u8, DecodeError> {
    byte(r, member, || PackError::Truncated)
}

/// The header after the length: the leaves at each length, and their bytes.
fn read_tree<R: Read>(r: &mut Input<R>, member: u64) -> Result<Tree, DecodeError> {
    let fail = |e: PackError| LegacyError::from(e).at(member);
    let max_len = usize::from(next(r, member)?);
    if !(1..=MAX_BITLEN).contains(&max_len) {
        return Err(fail(PackError::BitLength));
    }
    let mut tree = Tree {
        max_len,
        leaves: [0; MAX_BITLEN + 1],
        parents: [0; MAX_BITLEN + 1],
        lit_base: [0; MAX_BITLEN + 1],
        literal: [0; 256],
        literals: 0,
        peek_bits: max_len.min(MAX_PEEK),
        prefix_len: [0; 1 << MAX_PEEK],
    };
    let (mut max_leaves, mut n) = (1i64, 0u32);
    for len in 1..=max_len {
        let leaves = u32::from(next(r, member)?);
        if max_leaves - i64::from(len == max_len) < i64::from(leaves) {
            return Err(fail(PackError::TooManyLeaves));
        }
        max_leaves = (max_leaves - i64::from(leaves) + 1) * 2 - 1;
        tree.leaves[len] = leaves;
        n += leaves;
    }
    if n >= 256 {
        return Err(fail(PackError::TooManyLeaves));
    }
    // The last count is offset by 2; the end-of-block code is not stored, so 1 here.
    tree.leaves[max_len] += 1;
    for len in 1..=max_len {
        tree.lit_base[len] = tree.literals as i64;
        for _ in 0..tree.leaves[len] {
            tree.literal[tree.literals] = next(r, member)?;
            tree.literals += 1;
        }
    }
    tree.leaves[max_len] += 1;
    Ok(tree)
}

impl Tree {
    /// The parents at each length, and the table of short codes.
    fn build(&mut self) -> Result<(), PackError> {
        let mut nodes = 0u32;
        for len in (1..=self.max_len).rev() {
            nodes >>= 1;
            self.parents[len] = nodes;
            self.lit_base[len] -= i64::from(nodes);
            nodes += self.leaves[len];
        }
        if nodes >> 1 != 1 {
            return Err(PackError::TooFewLeaves);
        }
        // The shortest codes are all ones: the table fills from its end.
        let mut at = 1usize << self.peek_bits;
        for len in 1..=self.peek_bits {
            let prefixes = (self.leaves[len] as usize) << (self.peek_bits - len);
            at = at.checked_sub(prefixes).ok_or(PackError::TooManyLeaves)?;
            self.prefix_len[at..at + prefixes].fill(len as u8);
        }
        Ok(())
    }

    /// The next code and its length, its bits still in `bits`.
    fn code<R: Read>(
        &self,
        r: &mut Input<R>,
        member: u64,
        bits: &mut Bits,
    ) -> Result<(u32, usize), DecodeError> {
        let mut peek = bits.look(r, member, self.peek_bits)?;
        let len = usize::from(self.prefix_len[peek as usize]);
        if len > 0 {
            return Ok((peek >> (self.peek_bits - len), len));
        }
        let mut len = self.peek_bits;
        while peek < self.parents[len] {
            len += 1;
            if len > self.max_len {
                return Err(LegacyError::from(PackError::NoLeaf).at(member));
            }
            peek = bits.look(r, member, len)?;
        }
        Ok((peek, len))
    }
}

/// Bits read most significant first, up to 25 at a time.
#[derive(Default)]
struct Bits {
    buf: u64,
    valid: u32,
}

impl Bits {
    fn look<R: Read>(
        &mut self,
        r: &mut Input<R>,
        member: u64,
        n: usize,
    ) -> Result<u32, DecodeError> {
        while (self.valid as usize) < n {
            self.buf = (self.buf << 8 | u64::from(next(r, member)?)) & 0xff_ffff_ffff;
            self.valid += 8;
        }
        Ok(((self.buf >> (self.valid as usize - n)) & ((1 << n) - 1)) as u32)
    }
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;
