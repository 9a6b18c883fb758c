//! What the worker's test modules share: seeded data (xorshift noise, text of words),
//! so that every run tests the same bytes, and a raw inflater to check deflate output
//! with.

use flate2::{Decompress, FlushDecompress, Status};

/// Marsaglia's xorshift64 from `seed` (made odd: never the all-zero state).
pub fn xorshift(seed: u64) -> impl Iterator<Item = u64> {
    let mut x = seed | 1;
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    })
}

/// Incompressible bytes: the low byte of each xorshift step.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    xorshift(seed).take(len).map(|x| x as u8).collect()
}

/// `words` picked by xorshift: near and far repeats, as in text, so that deflate
/// chooses dynamic blocks.
pub fn words(len: usize, seed: u64, words: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    for x in xorshift(seed) {
        if out.len() >= len {
            break;
        }
        out.extend_from_slice(words[(x % words.len() as u64) as usize].as_bytes());
    }
    out.truncate(len);
    out
}

/// Raw-inflates all of `deflate`, primed with `dictionary`, through zlib. None if
/// zlib rejects it, or bytes are left after a final block; with `complete`, also if
/// the stream does not end with a final block (chunks alone end open).
pub fn raw_inflate(deflate: &[u8], dictionary: &[u8], complete: bool) -> Option<Vec<u8>> {
    let mut d = Decompress::new(false);
    if !dictionary.is_empty() {
        d.set_dictionary(dictionary).ok()?;
    }
    let mut out = Vec::with_capacity(4 * deflate.len() + 64);
    let status = loop {
        let read = d.total_in() as usize;
        let status = d
            .decompress_vec(&deflate[read..], &mut out, FlushDecompress::Sync)
            .ok()?;
        // Room left: zlib stopped for want of input, or at the end.
        if status == Status::StreamEnd || out.len() < out.capacity() {
            break status;
        }
        out.reserve(out.capacity());
    };
    let all_read = d.total_in() as usize == deflate.len();
    (all_read && (status == Status::StreamEnd || !complete)).then_some(out)
}
