//! One span against a raw deflate stream whose boundary is known: a sync flush
//! between two parts, the second referring back into the first.

use std::io::Write;

use flate2::{Compress, Compression, FlushCompress};

use super::*;

struct Stream {
    file: File,
    a: Vec<u8>,
    b: Vec<u8>,
    /// Compressed offset right after the sync flush that ends `a`.
    boundary: u64,
    len: u64,
}

fn stream() -> Stream {
    let a: Vec<u8> = (0..300_000u32)
        .flat_map(|i| (i % 977).to_le_bytes())
        .collect();
    // The second part repeats the first's end: its matches reach back across the point.
    let b: Vec<u8> = a[a.len() - 20_000..].repeat(10);
    let mut z = Compress::new(Compression::new(6), false);
    let mut out = Vec::with_capacity(4 << 20);
    z.compress_vec(&a, &mut out, FlushCompress::Sync).unwrap();
    let boundary = out.len() as u64;
    z.compress_vec(&b, &mut out, FlushCompress::Finish).unwrap();
    assert_eq!(z.total_in() as usize, a.len() + b.len(), "buffer too small");
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&out).unwrap();
    Stream {
        file,
        len: out.len() as u64,
        a,
        b,
        boundary,
    }
}

fn collect(
    s: &Stream,
    start: Start,
    window: &[u8],
    len: u64,
    end: End,
) -> (Result<Finished, SpanError>, Vec<u8>) {
    let mut out = Vec::new();
    let mut emit = |p: Bytes| {
        assert!(p.len() <= PIECE);
        out.extend_from_slice(&p);
        true
    };
    let r = inflate_span(&s.file, start, window, len, end, &mut emit);
    (r, out)
}

const ZERO: Start = Start {
    compressed: 0,
    bits: 0,
};

#[test]
fn spans_end_exactly_at_their_points() {
    let s = stream();
    let to_boundary = End::Point {
        compressed: s.boundary,
        bits: 0,
    };
    let (r, out) = collect(&s, ZERO, &[], s.a.len() as u64, to_boundary);
    let f = r.unwrap();
    assert_eq!(out, s.a);
    assert_eq!(
        (f.crc, f.len, f.end),
        (crc32fast::hash(&s.a), s.a.len() as u64, s.boundary)
    );

    let from_boundary = Start {
        compressed: s.boundary,
        bits: 0,
    };
    let window = &s.a[s.a.len() - 32 * 1024..];
    let (r, out) = collect(&s, from_boundary, window, s.b.len() as u64, End::Stream);
    assert_eq!(r.unwrap().end, s.len);
    assert_eq!(out, s.b);
}

#[test]
fn a_point_elsewhere_is_refused() {
    let s = stream();
    let a = s.a.len() as u64;
    for (len, compressed, bits) in [
        (a, s.boundary + 1, 0),
        (a, s.boundary - 1, 0),
        (a, s.boundary, 3),
        (a - 1, s.boundary, 0),
        (a + 1000, s.boundary, 0),
    ] {
        let end = End::Point { compressed, bits };
        let (r, _) = collect(&s, ZERO, &[], len, end);
        assert!(
            matches!(r, Err(SpanError::Misaligned)),
            "len {len} at {compressed}.{bits}: {r:?}"
        );
    }
    // The stream's end is not a point, nor a point the stream's end.
    let (r, _) = collect(&s, ZERO, &[], a, End::Stream);
    assert!(r.is_err());
    let end = End::Point {
        compressed: s.len,
        bits: 0,
    };
    let (r, _) = collect(&s, ZERO, &[], a + s.b.len() as u64, end);
    assert!(matches!(r, Err(SpanError::EarlyEnd)), "{r:?}");
}

#[test]
fn a_missing_window_or_short_data_fails() {
    let s = stream();
    let from_boundary = Start {
        compressed: s.boundary,
        bits: 0,
    };
    let (r, _) = collect(&s, from_boundary, &[], s.b.len() as u64, End::Stream);
    assert!(matches!(r, Err(SpanError::Data(_))), "{r:?}");
    s.file.set_len(s.len - 100).unwrap();
    let window = &s.a[s.a.len() - 32 * 1024..];
    let (r, _) = collect(&s, from_boundary, window, s.b.len() as u64, End::Stream);
    assert!(matches!(r, Err(SpanError::Truncated)), "{r:?}");
}
