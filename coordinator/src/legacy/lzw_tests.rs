//! Tests of `lzw.rs` on streams written code by code here (the e2e tests read what a
//! real compress writes at every width).

use crate::gzip::{DecodeError, decode};
use crate::legacy::LegacyError;
use crate::legacy::lzw::LzwError;

/// A .Z stream of 9-bit codes (the table never grows past 512 in these).
fn z(flags: u8, codes: &[u32]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x9d, flags];
    let (mut acc, mut bits) = (0u64, 0);
    for &c in codes {
        acc |= u64::from(c) << bits;
        bits += 9;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
    out
}

fn run(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    decode(bytes, &mut out).map(|_| out)
}

fn lzw_error(e: DecodeError) -> LzwError {
    match e {
        DecodeError::Legacy {
            source: LegacyError::Lzw(l),
            ..
        } => l,
        other => panic!("not an LZW error: {other}"),
    }
}

const BLOCK_16: u8 = 0x90;

#[test]
fn strings_and_the_code_being_defined() {
    // a b (ab) (ba): 257 is "ab", 258 "ba".
    assert_eq!(run(&z(BLOCK_16, &[97, 98, 257, 258])).unwrap(), b"ababba");
    // KwKwK: 257 is used as it is defined: "a" then "aa".
    assert_eq!(run(&z(BLOCK_16, &[97, 257])).unwrap(), b"aaa");
    // Without block mode 256 is a string like any other.
    assert_eq!(run(&z(0x10, &[97, 98, 256])).unwrap(), b"abab");
    // The header alone is an empty file.
    assert_eq!(run(&[0x1f, 0x9d, BLOCK_16]).unwrap(), b"");
}

#[test]
fn clear_starts_the_table_again() {
    // After CLEAR (skipping the rest of its group of eight codes), 257 is defined anew.
    let mut codes = vec![97, 98, 257, 256];
    codes.resize(8, 0);
    codes.extend([99, 100, 257]);
    assert_eq!(run(&z(BLOCK_16, &codes)).unwrap(), b"ababcdcd");
}

#[test]
fn damage_is_an_error() {
    assert!(matches!(
        lzw_error(run(&[0x1f, 0x9d]).unwrap_err()),
        LzwError::Truncated
    ));
    let e = run(&[0x1f, 0x9d, 0x91]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "compress (.Z) data: compressed with 17 bits, can only handle 16 bits"
    );
    // A first code that is no byte, and a code past the one being defined.
    assert!(matches!(
        lzw_error(run(&z(BLOCK_16, &[300])).unwrap_err()),
        LzwError::Corrupt { .. }
    ));
    assert!(matches!(
        lzw_error(run(&z(BLOCK_16, &[97, 258])).unwrap_err()),
        LzwError::Corrupt { .. }
    ));
    assert!(matches!(
        lzw_error(run(&z(BLOCK_16, &[256])).unwrap_err()),
        LzwError::Corrupt { .. }
    ));
}

#[test]
fn after_a_gzip_member_a_broken_one_is_an_error_not_garbage() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, b"gzip").unwrap();
    let mut bytes = gz.finish().unwrap();
    bytes.extend(z(BLOCK_16, &[97, 98, 257]));
    assert_eq!(run(&bytes).unwrap(), b"gzipabab");
    bytes.extend(z(BLOCK_16, &[300]).split_off(3));
    let e = run(&bytes).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("compress (.Z) data in member 2: corrupt input"),
        "{e}"
    );
}
