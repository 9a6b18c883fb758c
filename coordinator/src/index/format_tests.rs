//! The index format against itself (round trip, reopen), against the real gztool
//! (byte-exact), and against damage (every truncation, flipped and hostile fields).

use std::fs;
use std::io::{Cursor, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

use super::*;

/// Text with enough repetition to compress and enough variety to be checked.
fn data(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(format!("{i} {}\n", i.wrapping_mul(2654435761) % 1000).as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

fn points(d: &[u8], every: usize) -> Vec<Point> {
    (0..d.len())
        .step_by(every)
        .enumerate()
        .map(|(i, at)| Point {
            compressed: 10 + 1000 * i as u64,
            bits: (i % 8) as u8,
            uncompressed: at as u64,
            window: if i % 3 == 2 {
                Vec::new()
            } else {
                d[at.saturating_sub(WINDOW)..at].to_vec()
            },
        })
        .collect()
}

fn write_index(points: &[Point], size: u64) -> Vec<u8> {
    let mut w = IndexWriter::new(Cursor::new(Vec::new())).unwrap();
    for p in points {
        w.push(p).unwrap();
    }
    assert_eq!(w.points(), points.len() as u64);
    w.finish(size).unwrap();
    w.into_inner().into_inner()
}

fn read_bytes(bytes: &[u8]) -> Result<Index, IndexError> {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    Index::read(f)
}

#[test]
fn round_trip() {
    let d = data(300_000);
    let pts = points(&d, 70_000);
    let bytes = write_index(&pts, d.len() as u64);
    let index = read_bytes(&bytes).unwrap();
    assert_eq!(index.uncompressed_size(), d.len() as u64);
    assert_eq!(index.points().len(), pts.len());
    for (i, (got, want)) in index.points().iter().zip(&pts).enumerate() {
        assert_eq!(got.compressed, want.compressed);
        assert_eq!(got.uncompressed, want.uncompressed);
        assert_eq!(got.bits, want.bits);
        assert_eq!(got.has_window(), !want.window.is_empty());
        assert_eq!(index.window(i).unwrap(), want.window);
    }
}

#[test]
fn empty_index_round_trips() {
    let index = read_bytes(&write_index(&[], 0)).unwrap();
    assert!(index.points().is_empty());
    assert_eq!(index.uncompressed_size(), 0);
}

#[test]
fn reopen_continues_to_the_same_bytes() {
    let d = data(300_000);
    let pts = points(&d, 70_000);
    let whole = write_index(&pts, d.len() as u64);

    let mut w = IndexWriter::new(Cursor::new(Vec::new())).unwrap();
    w.push(&pts[0]).unwrap();
    w.push(&pts[1]).unwrap();
    let (n, len) = (w.points(), w.byte_len());
    w.push(&pts[2]).unwrap();
    // A crash after the durable point: what follows it is cut off, then continued.
    let mut buf = w.get_mut().get_ref().clone();
    buf.truncate(len as usize);
    let mut w = IndexWriter::reopen(Cursor::new(buf), n, len).unwrap();
    for p in &pts[2..] {
        w.push(p).unwrap();
    }
    w.finish(d.len() as u64).unwrap();
    assert_eq!(w.into_inner().into_inner(), whole);
    assert!(IndexWriter::reopen(Cursor::new(Vec::new()), 5, 40).is_err());
}

#[test]
fn a_finished_index_reopened_is_growing_again() {
    let d = data(300_000);
    let pts = points(&d, 70_000);
    let whole = write_index(&pts, d.len() as u64);
    let mut w = IndexWriter::new(Cursor::new(Vec::new())).unwrap();
    w.push(&pts[0]).unwrap();
    let (n, len) = (w.points(), w.byte_len());
    // Sealed (a failure right after it keeps it for --resume), then cut back to the
    // journal's point: its counts must not claim one point of a finished index.
    w.finish(123).unwrap();
    let mut buf = w.into_inner().into_inner();
    buf.truncate(len as usize);
    let mut w = IndexWriter::reopen(Cursor::new(buf), n, len).unwrap();
    let bytes = w.get_mut().get_ref().clone();
    assert!(matches!(read_bytes(&bytes), Err(IndexError::Incomplete)));
    for p in &pts[1..] {
        w.push(p).unwrap();
    }
    w.finish(d.len() as u64).unwrap();
    assert_eq!(w.into_inner().into_inner(), whole);
}

#[test]
fn an_unfinished_index_is_incomplete() {
    let d = data(100_000);
    let mut w = IndexWriter::new(Cursor::new(Vec::new())).unwrap();
    w.push(&points(&d, 50_000)[0]).unwrap();
    let bytes = w.get_mut().get_ref().clone();
    assert!(matches!(read_bytes(&bytes), Err(IndexError::Incomplete)));
}

#[test]
fn writer_refuses_what_the_format_cannot_hold() {
    let mut w = IndexWriter::new(Cursor::new(Vec::new())).unwrap();
    let p = |bits, window: usize| Point {
        compressed: 10,
        bits,
        uncompressed: 0,
        window: vec![0; window],
    };
    assert!(w.push(&p(8, 0)).is_err());
    assert!(w.push(&p(0, WINDOW + 1)).is_err());
    assert_eq!(w.points(), 0);
}

fn gztool(args: &[&str], dir: &Path) {
    let out = Command::new("gztool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "gztool {args:?}: {out:?}");
}

/// An index's bytes with each compressed window replaced by its inflated bytes and
/// the length field zeroed: zlib-rs and zlib compress a window to different (equally
/// valid) bytes, so byte-exact means exact except the deflate stream inside windows.
fn unpacked(bytes: &[u8]) -> Vec<u8> {
    let index = read_bytes(bytes).unwrap();
    let mut out = Vec::new();
    let mut from = 0;
    for (i, p) in index.points().iter().enumerate() {
        let at = p.window_at as usize;
        out.extend_from_slice(&bytes[from..at - 4]);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&index.window(i).unwrap());
        from = at + p.window_len as usize;
    }
    out.extend_from_slice(&bytes[from..]);
    out
}

/// gztool's own index of a gzip-made file: read, every window equal to the data
/// before its point; written again from what was read, the same bytes (see
/// [`unpacked`]).
#[test]
fn byte_exact_with_gztool() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(3_000_000);
    fs::write(dir.path().join("d"), &d).unwrap();
    let status = Command::new("gzip")
        .arg("-k")
        .arg("d")
        .current_dir(dir.path())
        .status();
    assert!(status.unwrap().success());
    for (flags, name) in [("-z", "v0.gzi"), ("-x", "v1.gzi")] {
        gztool(&[flags, "-s", "1", "-I", name, "-i", "d.gz"], dir.path());
        let index = Index::open(&dir.path().join(name)).unwrap();
        assert_eq!(index.uncompressed_size(), d.len() as u64);
        let n = index.points().len();
        assert!(n >= 3, "{n} points");
        assert!(index.points().iter().any(|p| p.bits != 0));
        let mut w = IndexWriter::new(Cursor::new(Vec::new())).unwrap();
        for (i, p) in index.points().iter().enumerate() {
            let window = index.window(i).unwrap();
            let at = p.uncompressed as usize;
            assert_eq!(window, d[at - window.len()..at], "point {i}");
            w.push(&Point {
                compressed: p.compressed,
                bits: p.bits,
                uncompressed: p.uncompressed,
                window,
            })
            .unwrap();
        }
        if name == "v0.gzi" {
            w.finish(d.len() as u64).unwrap();
            let ours = w.into_inner().into_inner();
            let theirs = fs::read(dir.path().join(name)).unwrap();
            assert_eq!(unpacked(&ours), unpacked(&theirs));
        }
    }
}

fn assert_refused(bytes: &[u8], why: &str) {
    assert!(read_bytes(bytes).is_err(), "{why}: accepted");
}

#[test]
fn every_truncation_and_extension_is_refused() {
    let d = data(200_000);
    let bytes = write_index(&points(&d, 60_000), d.len() as u64);
    for len in 0..bytes.len() {
        assert_refused(&bytes[..len], &format!("cut to {len}"));
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_refused(&longer, "a byte added");
}

/// Patches a big-endian field of the first point (offset from the point's start).
fn patched(bytes: &[u8], at: usize, value: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[HEADER as usize + at..][..value.len()].copy_from_slice(value);
    b
}

#[test]
fn damaged_fields_are_refused() {
    let d = data(200_000);
    let bytes = write_index(&points(&d, 60_000), d.len() as u64);
    let mut magic = bytes.clone();
    magic[12] ^= 1;
    assert!(matches!(read_bytes(&magic), Err(IndexError::NotAnIndex)));
    let mut count = bytes.clone();
    count[16..24].copy_from_slice(&u64::MAX.to_be_bytes());
    count[24..32].copy_from_slice(&u64::MAX.to_be_bytes());
    assert!(matches!(read_bytes(&count), Err(IndexError::BadCount(_))));
    assert_refused(&patched(&bytes, 16, &8u32.to_be_bytes()), "bits 8");
    // The second point moved before the first.
    let second = HEADER as usize + POINT_FIXED as usize;
    let mut order = bytes.clone();
    order[second..second + 8].copy_from_slice(&0u64.to_be_bytes());
    assert_refused(&order, "offsets that do not increase");
    let mut size = bytes.clone();
    let end = size.len();
    size[end - 8..].copy_from_slice(&1u64.to_be_bytes());
    assert_refused(&size, "size below the last point");
}

#[test]
fn damaged_windows_are_refused_when_read() {
    let d = data(200_000);
    let pts = points(&d, 60_000);
    let bytes = write_index(&pts, d.len() as u64);
    // Point 2's window (point 1, at offset 0, has an empty one).
    let index = read_bytes(&bytes).unwrap();
    let at = index.points()[1].window_at as usize;
    let mut b = bytes.clone();
    b[at + 4] ^= 0x55;
    b[at + 5] ^= 0x55;
    let index = read_bytes(&b).unwrap();
    assert!(index.window(1).is_err());

    // A window that inflates to more than 32 KiB, however well it is framed.
    let mut big = Vec::new();
    let mut z = ZlibEncoder::new(&mut big, Compression::default());
    z.write_all(&[7u8; WINDOW + 1]).unwrap();
    z.finish().unwrap();
    let mut f = tempfile::tempfile().unwrap();
    let mut w = IndexWriter::new(&mut f).unwrap();
    w.push(&Point {
        compressed: 10,
        bits: 0,
        uncompressed: 5,
        window: Vec::new(),
    })
    .unwrap();
    w.finish(9).unwrap();
    // Replace the empty window by the oversized one, fixing the length field.
    let mut b = Vec::new();
    f.seek(SeekFrom::Start(0)).unwrap();
    std::io::Read::read_to_end(&mut f, &mut b).unwrap();
    let tail = b.split_off(HEADER as usize + POINT_FIXED as usize);
    let n = b.len();
    b[n - 4..].copy_from_slice(&(big.len() as u32).to_be_bytes());
    b.extend_from_slice(&big);
    b.extend_from_slice(&tail);
    let index = read_bytes(&b).unwrap();
    assert!(matches!(
        index.window(0),
        Err(IndexError::Damaged { point: 1, .. })
    ));
}
