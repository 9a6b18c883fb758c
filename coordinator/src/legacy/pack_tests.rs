//! Tests of `pack.rs`, on files `testing::pack` encodes from the documented format.

use crate::gzip::{DecodeError, decode};
use crate::legacy::LegacyError;
use crate::legacy::pack::PackError;
use crate::testing::pack;

fn text(n: usize) -> Vec<u8> {
    let words = ["pack ", "huffman ", "leaf ", "code\n", "z ", "tree "];
    (0..)
        .map(|i: usize| words[(i * 7 + i / 3) % words.len()])
        .flat_map(str::bytes)
        .take(n)
        .collect()
}

fn run(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    decode(bytes, &mut out).map(|_| out)
}

fn pack_error(e: DecodeError) -> PackError {
    match e {
        DecodeError::Legacy {
            source: LegacyError::Pack(p),
            ..
        } => p,
        other => panic!("not a pack error: {other}"),
    }
}

#[test]
fn packed_data_comes_back() {
    for data in [
        text(100_000),
        b"ab".to_vec(),
        b"aaaa".to_vec(),
        (0..=255).collect(),
    ] {
        assert_eq!(run(&pack(&data)).unwrap(), data);
    }
    // Members follow one another, gzip's or pack's.
    let mut two = pack(b"first ");
    two.extend(pack(b"second"));
    assert_eq!(run(&two).unwrap(), b"first second");
}

#[test]
fn damage_is_an_error_never_a_panic() {
    let good = pack(&text(5000));
    for n in [2, 5, 7, 8, 20, good.len() / 2, good.len() - 1] {
        assert!(run(&good[..n]).is_err(), "cut at {n}");
    }
    let mut long = good.clone();
    long[2] ^= 1;
    assert!(matches!(
        pack_error(run(&long).unwrap_err()),
        PackError::Length { .. }
    ));
    let mut bits = good.clone();
    bits[6] = 26;
    assert!(matches!(
        pack_error(run(&bits).unwrap_err()),
        PackError::BitLength
    ));
    bits[6] = 0;
    assert!(matches!(
        pack_error(run(&bits).unwrap_err()),
        PackError::BitLength
    ));
    let mut leaves = good.clone();
    leaves[7] = 2;
    assert!(matches!(
        pack_error(run(&leaves).unwrap_err()),
        PackError::TooManyLeaves
    ));
    // Every single-byte change: an error or other bytes, never a panic.
    for at in 2..good.len() {
        for flip in [1u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[at] ^= flip;
            let _ = run(&bad);
        }
    }
}
