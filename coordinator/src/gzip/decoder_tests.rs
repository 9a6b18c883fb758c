//! Tests of `decoder.rs`: members, truncation, trailing data, corrupt data.

use super::*;
use crate::gzip::errors::Part;
use crate::gzip::header::Field;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::{self, Read};

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn run(bytes: &[u8]) -> Result<(Decoded, Vec<u8>), DecodeError> {
    let mut out = Vec::new();
    decode(bytes, &mut out).map(|d| (d, out))
}

#[test]
fn multi_member_streams_decode_whole() {
    let mut two = gz(b"hello ");
    two.extend(gz(b"world"));
    let (d, out) = run(&two).unwrap();
    assert_eq!(out, b"hello world");
    assert_eq!(d.members, 2);
    assert_eq!(d.compressed, two.len() as u64);
    assert_eq!(d.uncompressed, 11);
}

#[test]
fn trailing_garbage_is_counted() {
    let mut bytes = gz(b"data");
    bytes.extend_from_slice(b"garbage!");
    let (d, out) = run(&bytes).unwrap();
    assert_eq!(out, b"data");
    assert_eq!(d.trailing_garbage, 8);
}

/// Reads at most `n` bytes a call, so buffer edges fall where a test wants them.
struct Dribble<'a>(&'a [u8], usize);
impl Read for Dribble<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let k = out.len().min(self.1).min(self.0.len());
        out[..k].copy_from_slice(&self.0[..k]);
        self.0 = &self.0[k..];
        Ok(k)
    }
}

#[test]
fn garbage_starting_like_a_member_is_garbage_wherever_reads_end() {
    let member = gz(b"payload");
    let mut bytes = member.clone();
    bytes.extend_from_slice(&[0x1f, b'x', b'y', b'z']);
    // One read ends exactly after the member plus the 0x1f.
    let mut out = Vec::new();
    let d = decode(Dribble(&bytes, member.len() + 1), &mut out).unwrap();
    assert_eq!((d.members, d.trailing_garbage), (1, 4));
    let mut out = Vec::new();
    let d = decode(Dribble(&bytes, 1), &mut out).unwrap();
    assert_eq!(
        (d.members, d.trailing_garbage, out.as_slice()),
        (1, 4, &b"payload"[..])
    );
}

#[test]
fn damage_is_named() {
    let good = gz(&b"some text to compress, some text to compress".repeat(50));
    assert!(matches!(run(b"plain text"), Err(DecodeError::NotGzip)));
    assert!(matches!(run(b"x"), Err(DecodeError::NotGzip)));
    assert!(matches!(run(b""), Err(DecodeError::Empty)));
    let cut = |n: usize| run(&good[..n]).unwrap_err();
    for (n, part) in [
        (1, Part::Header(Field::Fixed)),
        (9, Part::Header(Field::Fixed)),
        (10, Part::Data),
        (good.len() / 2, Part::Data),
        (good.len() - 8, Part::Trailer),
        (good.len() - 3, Part::Trailer),
    ] {
        assert!(
            matches!(cut(n), DecodeError::Truncated { member: 1, part: p } if p == part),
            "cut at {n}: {}",
            cut(n)
        );
    }
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0xff;
    assert!(matches!(
        run(&bad_crc),
        Err(DecodeError::Crc { member: 1, .. })
    ));
    let mut bad_len = good.clone();
    bad_len[n - 1] ^= 0xff;
    assert!(matches!(run(&bad_len), Err(DecodeError::Length { .. })));
    let mut bad_data = good.clone();
    bad_data[12] ^= 0xff;
    bad_data[13] ^= 0xff;
    assert!(run(&bad_data).is_err());
    let mut second = good.clone();
    second.extend_from_slice(&[0x1f, 0x8b, 8, 0x40, 0, 0, 0, 0, 0, 3]);
    let e = run(&second).unwrap_err();
    assert!(matches!(e, DecodeError::Header { member: 2, .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "bad header in member 2: reserved flag bits set (0x40): written by a newer or broken tool"
    );
}

/// fuzz/read_gzip's first find: a distance too far back, caught on zlib-rs's fast
/// path, came out as "repeated call with bad state". Now it is a corrupt member
/// wherever reads end, and never in words about the inflater.
#[test]
fn corrupt_data_is_named_alike_however_it_is_read() {
    let bytes = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x2a, 0xa8, 0xa0, 0x82, 0x0a, 0x82, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x0a, 0x2a, 0xa8, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    for step in [1, 2, 5, bytes.len()] {
        let e = decode(Dribble(&bytes, step), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(e, DecodeError::Corrupt { member: 1, .. }),
            "read {step} at a time: {e}"
        );
        assert!(
            !e.to_string().contains("bad state"),
            "read {step} at a time: {e}"
        );
    }
}

#[test]
fn zero_padding_is_not_garbage_but_zeros_then_anything_is() {
    let mut padded = gz(b"data");
    padded.extend_from_slice(&[0; 1000]);
    let (d, out) = run(&padded).unwrap();
    assert_eq!(
        (out.as_slice(), d.trailing_zeros, d.trailing_garbage),
        (&b"data"[..], 1000, 0)
    );
    padded.push(1);
    let (d, _) = run(&padded).unwrap();
    assert_eq!((d.trailing_zeros, d.trailing_garbage), (0, 1001));
    // One byte alone after a member is no garbage to gzip but a member cut short.
    let mut lone = gz(b"data");
    lone.push(0x1f);
    assert!(matches!(
        run(&lone),
        Err(DecodeError::LoneByte {
            member: 1,
            byte: 0x1f
        })
    ));
    lone.pop();
    lone.push(0);
    assert_eq!(run(&lone).unwrap().0.trailing_zeros, 1);
}

#[test]
fn sizes_and_crc_cover_every_member() {
    let mut two = gz(b"hello ");
    two.extend(gz(b"world"));
    let (d, _) = run(&two).unwrap();
    assert_eq!(
        (d.uncompressed, d.crc),
        (11, crc32fast::hash(b"hello world"))
    );
}

fn passing(bytes: &[u8]) -> Result<(Decoded, Vec<u8>), DecodeError> {
    let mut out = Vec::new();
    decode_with(bytes, &mut out, Options { passthrough: true }).map(|d| (d, out))
}

/// gzip -cdf: what is not compressed comes out as it went in, alone, after members, or
/// empty; what is compressed but damaged is still an error.
#[test]
fn passthrough_copies_what_is_not_compressed() {
    for plain in [&b"plain text\n"[..], b"x", b"\x1f", b"", b"\x1f\x8c rest"] {
        let (d, out) = passing(plain).unwrap();
        assert_eq!(out, plain);
        assert_eq!(
            (d.passed, d.uncompressed),
            (plain.len() as u64, plain.len() as u64)
        );
    }
    let mut then = gz(b"member ");
    then.extend_from_slice(b"then plain\0\0");
    let (d, out) = passing(&then).unwrap();
    assert_eq!(out, b"member then plain\0\0");
    assert_eq!((d.members, d.passed, d.trailing_garbage), (2, 12, 0));
    // After a member, zeros and a lone byte are copied too, as gzip -cdf copies them.
    let mut lone = gz(b"m");
    lone.push(b'P');
    assert_eq!(passing(&lone).unwrap().1, b"mP");
    assert!(passing(&[0x1f, 0x8b]).is_err());
    let mut cut = gz(b"damaged");
    cut.truncate(cut.len() - 3);
    assert!(passing(&cut).is_err());
}
