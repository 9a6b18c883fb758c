//! The block walker against zlib's deflate output: every block kind, every bit
//! position a stream can end at, damage, and opening a stream for concatenation.

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;

use super::*;
use crate::test_data::{noise, raw_inflate, words};

fn deflate(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A whole stream, which must end with a final block.
fn inflate(data: &[u8]) -> Vec<u8> {
    raw_inflate(data, &[], true).expect("a complete deflate stream")
}

/// Text with near and far repeats, so deflate chooses dynamic blocks.
fn text(len: usize, seed: u64) -> Vec<u8> {
    words(
        len,
        seed,
        &[
            "gzip ", "chunk ", "worker ", "the ", "\n", "deflate ", "1952 ",
        ],
    )
}

/// A final empty fixed-Huffman block: what closes a stream of open chunks.
const CLOSE: [u8; 2] = [0x03, 0x00];

fn kinds(w: &Walk) -> Vec<BlockKind> {
    w.blocks.iter().map(|b| b.kind).collect()
}

/// Every case: the walk ends where the encoder's output does, and the data made open
/// then closed inflates to the input, alone and after another such chunk.
fn check(data: &[u8], level: u32) -> Walk {
    let mut d = deflate(data, level);
    let w = walk(&d).unwrap();
    assert_eq!(
        w.end_bit.div_ceil(8),
        d.len() as u64,
        "walk ends where the data does"
    );
    assert!(w.blocks.last().unwrap().last);
    assert!(w.blocks[..w.blocks.len() - 1].iter().all(|b| !b.last));
    end_open(&mut d).unwrap();
    assert_eq!(&d[d.len() - 4..], &[0, 0, 0xff, 0xff]);
    // Open data has no final block: a walk runs off its end.
    assert!(walk(&d).is_err());
    let mut closed = d.clone();
    closed.extend_from_slice(&CLOSE);
    assert_eq!(inflate(&closed), data);
    let mut two = d.clone();
    two.extend_from_slice(&d);
    two.extend_from_slice(&CLOSE);
    assert_eq!(inflate(&two), [data, data].concat());
    w
}

#[test]
fn a_stored_block() {
    let w = check(&noise(1000, 1), 0);
    assert_eq!(kinds(&w), [BlockKind::Stored]);
}

#[test]
fn a_fixed_huffman_block() {
    let w = check(b"hello, hello, hello", 6);
    assert_eq!(kinds(&w), [BlockKind::Fixed]);
}

#[test]
fn a_dynamic_block() {
    let w = check(&text(20_000, 2), 6);
    assert_eq!(kinds(&w), [BlockKind::Dynamic]);
}

#[test]
fn many_blocks_of_mixed_kinds() {
    let mut data = text(400_000, 3);
    data.extend(noise(200_000, 4));
    data.extend(text(300_000, 5));
    for level in [1, 6, 9] {
        let w = check(&data, level);
        assert!(
            w.blocks.len() >= 2,
            "level {level}: {} blocks",
            w.blocks.len()
        );
    }
    let w = check(&data, 0);
    assert!(
        w.blocks.len() > 10 && w.blocks.iter().all(|b| b.kind == BlockKind::Stored),
        "{} blocks: {:?}",
        w.blocks.len(),
        &w.blocks[..3]
    );
}

#[test]
fn one_byte_and_empty_data() {
    for level in [0, 1, 6, 9] {
        check(b"x", level);
        check(b"", level);
    }
}

/// The marker's header goes in the last byte when 3 bits remain there and in a new byte
/// when not, or when the data ends exactly on a byte boundary: all eight cases.
#[test]
fn every_bit_position_the_data_can_end_at() {
    let mut seen = [false; 8];
    for len in 1..4000 {
        let data = text(len, len as u64);
        let d = deflate(&data, 6);
        let r = (walk(&d).unwrap().end_bit % 8) as usize;
        if !seen[r] {
            seen[r] = true;
            check(&data, 6);
        }
        if seen.iter().all(|&s| s) {
            return;
        }
    }
    panic!("not every end position was met: {seen:?}");
}

#[test]
fn a_final_block_in_the_middle_ends_the_walk_there() {
    let a = deflate(b"first part, first part", 6);
    let mut data = a.clone();
    data.extend(deflate(b"second", 6));
    assert_eq!(walk(&data).unwrap().end_bit.div_ceil(8), a.len() as u64);
}

#[test]
fn damage_is_an_error_never_a_panic() {
    let good = deflate(&text(50_000, 6), 6);
    assert_eq!(
        walk(&good[..good.len() / 2]),
        Err(BlockError::Truncated(good.len() as u64 / 2 * 8))
    );
    assert_eq!(walk(&[0b110]), Err(BlockError::BadType(0)));
    // A stored block whose length's complement is wrong.
    assert_eq!(
        walk(&[0x01, 5, 0, 0, 0]),
        Err(BlockError::BadStoredLength(0))
    );
    assert_eq!(walk(&[]), Err(BlockError::Truncated(0)));
    let mut x = 7u64;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bad = good.clone();
        let at = (x as usize) % bad.len();
        bad[at] ^= 1 << ((x >> 32) % 8);
        let _ = walk(&bad);
        let _ = end_open(&mut bad);
    }
}

#[test]
fn last_block_is_the_walks_last_and_end() {
    // Many empty fixed blocks (10 bits each), then a final one.
    let mut bits = Vec::new();
    for i in 0..1000 {
        bits.extend([(i == 999) as u8, 1, 0]);
        bits.extend([0u8; 7]);
    }
    let mut data = vec![0u8; bits.len().div_ceil(8)];
    for (i, b) in bits.iter().enumerate() {
        data[i / 8] |= b << (i % 8);
    }
    let walked = walk(&data).unwrap();
    assert_eq!(walked.blocks.len(), 1000);
    let (last, end) = last_block(&data).unwrap();
    assert_eq!(last, *walked.blocks.last().unwrap());
    assert_eq!(end, walked.end_bit);
    assert!(last.last);
}
