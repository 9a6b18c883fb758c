//! Spans inflated whole against a raw deflate stream cut by sync flushes: the same
//! bytes as the streaming path, and every kind of misplaced end refused.

use std::io::Write;
use std::sync::Arc;

use flate2::{Compress, Compression, FlushCompress};

use super::*;
use crate::index::buffers::Buffers;
use crate::index::span::{Gz, Inflater};

/// A raw deflate stream of `parts`, a sync flush after each, and its boundaries (the
/// compressed offset after each flush). With `finish`, a final empty block ends it.
fn deflate(parts: &[&[u8]], finish: bool) -> (Vec<u8>, Vec<u64>) {
    let mut z = Compress::new(Compression::new(6), false);
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(total + (1 << 20));
    let mut bounds = Vec::new();
    for part in parts {
        z.compress_vec(part, &mut out, FlushCompress::Sync).unwrap();
        bounds.push(out.len() as u64);
    }
    if finish {
        z.compress_vec(&[], &mut out, FlushCompress::Finish)
            .unwrap();
    }
    assert_eq!(z.total_in() as usize, total, "buffer too small");
    (out, bounds)
}

fn fast_inflater() -> Inflater {
    Inflater::new(MAX_WHOLE, Buffers::new(1))
}

fn file(bytes: &[u8]) -> File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    f
}

fn part_a() -> Vec<u8> {
    (0..300_000u32)
        .flat_map(|i| (i % 977).to_le_bytes())
        .collect()
}

/// The second part repeats the first's end: its matches reach back across the point.
fn part_b(a: &[u8]) -> Vec<u8> {
    a[a.len() - 20_000..].repeat(10)
}

fn at(compressed: u64) -> Start {
    Start {
        compressed,
        bits: 0,
    }
}

fn point(compressed: u64) -> End {
    End::Point {
        compressed,
        bits: 0,
    }
}

type Outcome = (Result<Option<Finished>, SpanError>, Vec<u8>);

fn whole(f: &File, start: Start, window: &[u8], len: u64, end: End) -> Outcome {
    let mut out = Vec::new();
    let mut emit = |p: Bytes| {
        assert!(!p.is_empty() && out.is_empty(), "one piece, not empty");
        out.extend_from_slice(&p);
        true
    };
    let gz_len = f.metadata().unwrap().len();
    let how = plan(start, window.len(), len, end, gz_len).expect("a span that qualifies");
    let r = Scratch::new(Buffers::new(1)).inflate(f, start, window, len, how, &mut emit);
    (r, out)
}

fn footprint(start: Start, window: usize, len: u64, end: End) -> Option<u64> {
    plan(start, window, len, end, 1000).map(|how| how.footprint)
}

fn fast(f: &File, s: Start, w: &[u8], len: u64, end: End, cap: u64) -> (Finished, Vec<u8>) {
    let mut out = Vec::new();
    let mut emit = |p: Bytes| {
        out.extend_from_slice(&p);
        true
    };
    let gz = Gz {
        file: f,
        len: f.metadata().unwrap().len(),
    };
    let done = Inflater::new(cap, Buffers::new(1))
        .inflate(gz, s, w, len, end, &mut emit)
        .unwrap();
    (done, out)
}

fn streamed(f: &File, start: Start, window: &[u8], len: u64, end: End) -> (Finished, Vec<u8>) {
    let mut out = Vec::new();
    let mut emit = |p: Bytes| {
        out.extend_from_slice(&p);
        true
    };
    let done = crate::index::span::inflate_span(f, start, window, len, end, &mut emit).unwrap();
    (done, out)
}

#[test]
fn the_same_bytes_as_streaming_with_and_without_a_window() {
    let a = part_a();
    let b = part_b(&a);
    let (z, bounds) = deflate(&[&a, &b], true);
    let f = file(&z);
    let window = &a[a.len() - 32 * 1024..];
    for (start, w, data, end) in [
        (at(0), &[][..], &a, bounds[0]),
        (at(bounds[0]), window, &b, bounds[1]),
    ] {
        let len = data.len() as u64;
        let (r, out) = whole(&f, start, w, len, point(end));
        let done = r.unwrap().expect("inflated whole");
        assert!(out == *data && done.whole);
        let (s, streamed_out) = streamed(&f, start, w, len, point(end));
        assert!(streamed_out == out && !s.whole);
        assert_eq!((done.crc, done.len, done.end), (s.crc, s.len, s.end));
    }
    // Without its window the second span reaches back into nothing: refused.
    let (r, out) = whole(&f, at(bounds[0]), &[], b.len() as u64, point(bounds[1]));
    assert!(matches!(r, Ok(None)) && out.is_empty(), "{r:?}");
}

#[test]
fn one_scratch_used_for_span_after_span_leaks_nothing_between_them() {
    let a = part_a();
    let b = part_b(&a);
    let (z, bounds) = deflate(&[&a, &b], true);
    let f = file(&z);
    let window = &a[a.len() - 32 * 1024..];
    let buffers = Buffers::new(2);
    let mut scratch = Scratch::new(Arc::clone(&buffers));
    let gz_len = z.len() as u64;
    let mut run = |start: Start, w: &[u8], len: u64, end: End| {
        let mut out = Vec::new();
        let how = plan(start, w.len(), len, end, gz_len).unwrap();
        let r = scratch.inflate(&f, start, w, len, how, &mut |p: Bytes| {
            out.extend_from_slice(&p);
            true
        });
        (r.unwrap(), out)
    };
    // Large, small, a refusal (its output and stream left dirty), then each again: the
    // buffers are the earlier spans', and every span must still be exactly its own.
    let spans = [
        (at(0), &[][..], a.len() as u64, point(bounds[0]), Some(&a)),
        (
            at(bounds[0]),
            window,
            b.len() as u64,
            point(bounds[1]),
            Some(&b),
        ),
        (
            at(bounds[0]),
            window,
            b.len() as u64 - 1,
            point(bounds[1]),
            None,
        ),
        (
            at(bounds[0]),
            window,
            b.len() as u64,
            point(bounds[1]),
            Some(&b),
        ),
        (at(0), &[][..], a.len() as u64, point(bounds[0]), Some(&a)),
    ];
    for (start, w, len, end, want) in spans {
        let (done, out) = run(start, w, len, end);
        match want {
            Some(data) => {
                assert!(out == *data, "span at {start:?}");
                assert_eq!(done.unwrap().crc, crc32fast::hash(data));
            }
            None => assert!(done.is_none() && out.is_empty()),
        }
    }
    assert!(buffers.waiting() >= 1, "outputs came back to be used again");
}

#[test]
fn an_end_a_byte_off_or_a_length_off_by_one_is_refused() {
    let a = part_a();
    let b = part_b(&a);
    let (z, bounds) = deflate(&[&a, &b], true);
    let f = file(&z);
    let (n, end) = (a.len() as u64, bounds[0]);
    for (len, compressed) in [(n, end - 1), (n, end + 1), (n - 1, end), (n + 1, end)] {
        let (r, out) = whole(&f, at(0), &[], len, point(compressed));
        assert!(matches!(r, Ok(None)), "{len} to {compressed}: {r:?}");
        assert!(out.is_empty(), "nothing leaves before the checks");
        // The streaming path then gives the verdict: refused too.
        let mut emit = |_: Bytes| true;
        let gz = Gz {
            file: &f,
            len: z.len() as u64,
        };
        let r = fast_inflater().inflate(gz, at(0), &[], len, point(compressed), &mut emit);
        assert!(matches!(r, Err(SpanError::Misaligned)), "{r:?}");
    }
    // A point at the stream's end: the final block stops libdeflate short of the tail,
    // with fewer bytes out than the index promised (once a panic, not a refusal).
    let total = (a.len() + b.len()) as u64;
    for len in [total, total + 5, total + 1000] {
        let (r, _) = whole(&f, at(0), &[], len, point(z.len() as u64));
        assert!(matches!(r, Ok(None)), "{len}: {r:?}");
    }
}

/// A stale index's starts fall anywhere in the data: wherever libdeflate stops (a
/// final block read from the middle of a code, bad data, too little or too much
/// output), the span is refused, never a panic.
#[test]
fn starts_that_are_not_points_are_refused() {
    let a = part_a();
    let b = part_b(&a);
    let (z, bounds) = deflate(&[&a, &b], true);
    let f = file(&z);
    for from in 1..400u64 {
        for len in [1, 4, 5, 6, 1000, a.len() as u64] {
            let (r, out) = whole(&f, at(from), &[], len, point(bounds[0]));
            assert!(matches!(r, Ok(None)), "from {from}, {len} bytes: {r:?}");
            assert!(out.is_empty());
        }
    }
}

#[test]
fn a_span_of_no_bytes() {
    let a = part_a();
    // Then an empty stored block alone (a second sync flush), then more data.
    let (mut z, bounds) = deflate(&[&a], false);
    z.extend_from_slice(&[0, 0, 0, 0xFF, 0xFF]);
    let empty_end = z.len() as u64;
    z.extend_from_slice(&deflate(&[&a], true).0);
    let f = file(&z);
    let window = &a[a.len() - 32 * 1024..];
    for (from, to) in [(bounds[0], empty_end), (bounds[0], bounds[0])] {
        let (r, out) = whole(&f, at(from), window, 0, point(to));
        let done = r.unwrap().expect("inflated whole");
        assert!(out.is_empty());
        assert_eq!((done.crc, done.len, done.end), (0, 0, to));
    }
    let (r, _) = whole(&f, at(bounds[0]), window, 1, point(empty_end));
    assert!(matches!(r, Ok(None)), "{r:?}");
}

#[test]
fn a_span_over_the_cap_is_streamed() {
    let a = part_a();
    let (z, bounds) = deflate(&[&a, &a], true);
    let f = file(&z);
    let len = a.len() as u64;
    let need = footprint(at(0), 0, len, point(bounds[0])).unwrap();
    assert!(
        need > len && need < 2 * len + z.len() as u64 + 1024,
        "{need}"
    );
    for (cap, whole) in [(need - 1, false), (need, true)] {
        let (done, out) = fast(&f, at(0), &[], len, point(bounds[0]), cap);
        assert!(out == a && done.whole == whole, "cap {cap}");
    }
}

#[test]
fn only_byte_aligned_points_inside_the_stream_qualify() {
    let w = 32 * 1024;
    assert!(footprint(at(10), w, 5, point(20)).is_some());
    let odd = Start {
        compressed: 10,
        bits: 3,
    };
    assert_eq!(footprint(odd, w, 5, point(20)), None);
    let odd_end = End::Point {
        compressed: 20,
        bits: 5,
    };
    assert_eq!(footprint(at(10), w, 5, odd_end), None);
    assert_eq!(footprint(at(30), w, 5, point(20)), None);
    // The last span: up to the trailer, which must fit after it.
    assert!(footprint(at(10), w, 5, End::Stream).is_some());
    assert_eq!(plan(at(10), w, 5, End::Stream, 17), None);
    assert_eq!(footprint(odd, w, 5, End::Stream), None);
    // A length no span can have.
    assert_eq!(footprint(at(10), w, u64::MAX - 40, point(20)), None);
}

/// The last span: its bytes up to the trailer hold the end of the stream, exactly.
#[test]
fn the_last_span_ends_exactly_where_the_trailer_starts() {
    let a = part_a();
    let b = part_b(&a);
    let (z, bounds) = deflate(&[&a, &b], true);
    let window = &a[a.len() - 32 * 1024..];
    let from = at(bounds[0]);
    let n = b.len() as u64;
    let trailer = [7u8; 8];
    let f = file(&[&z[..], &trailer].concat());
    let (r, out) = whole(&f, from, window, n, End::Stream);
    let done = r.unwrap().expect("inflated whole");
    assert!(out == b);
    assert_eq!((done.len, done.end, done.whole), (n, z.len() as u64, true));
    for len in [n - 1, n + 1] {
        let (r, _) = whole(&f, from, window, len, End::Stream);
        assert!(matches!(r, Ok(None)), "{len}: {r:?}");
    }
    // Data after the trailer (the stream ends too early), or no trailer at all (the
    // stream is cut short): refused.
    for bad in [
        [&z[..], &trailer, b"more"].concat(),
        z[..z.len() - 2].to_vec(),
    ] {
        let (r, _) = whole(&file(&bad), from, window, n, End::Stream);
        assert!(matches!(r, Ok(None)), "{r:?}");
    }
}

#[test]
fn data_that_ends_like_the_tail_is_streamed_instead() {
    let mut a = part_a();
    a.extend_from_slice(&TAIL);
    let (z, bounds) = deflate(&[&a, &a], true);
    let f = file(&z);
    let (r, _) = whole(&f, at(0), &[], a.len() as u64, point(bounds[0]));
    assert!(matches!(r, Ok(None)), "{r:?}");
    let (done, out) = fast(&f, at(0), &[], a.len() as u64, point(bounds[0]), MAX_WHOLE);
    assert!(out == a && !done.whole);
}

/// A final stored block around the point, made to swallow the tail exactly (its
/// length counts the tail in): it would copy the random bytes too. The span's last
/// bytes are then the tail's header, and that is refused.
#[test]
fn a_stored_block_made_to_swallow_the_tail_is_refused() {
    let real = b"the real data before the point";
    let k = real.len();
    let swallow = (k + TAIL.len() + MARK) as u16;
    let mut z = vec![0x01];
    z.extend_from_slice(&swallow.to_le_bytes());
    z.extend_from_slice(&(!swallow).to_le_bytes());
    z.extend_from_slice(real);
    let point_at = z.len() as u64;
    z.extend_from_slice(&[0xAA; 64]);
    let f = file(&z);
    let len = (k + TAIL.len()) as u64;
    let (r, out) = whole(&f, at(0), &[], len, point(point_at));
    assert!(matches!(r, Ok(None)) && out.is_empty(), "{r:?}");
    let mut emit = |_: Bytes| true;
    let gz = Gz {
        file: &f,
        len: z.len() as u64,
    };
    let r = fast_inflater().inflate(gz, at(0), &[], len, point(point_at), &mut emit);
    assert!(r.is_err(), "{r:?}");
}

#[test]
fn the_tail_differs_every_time() {
    assert_ne!(random_mark(), random_mark());
}

/// Points near the right one and starts that are no block's: wherever the streaming
/// path accepts a span, the whole path gives the same bytes, and it refuses the rest.
#[test]
fn agrees_with_streaming_wherever_the_points_are() {
    let a = part_a();
    let (z, bounds) = deflate(&[&a, &a], true);
    let f = file(&z);
    let n = a.len() as u64;
    let mut accepted = 0;
    for from in [0, 1, 2, 77] {
        for end in bounds[0] - 12..bounds[0] + 12 {
            for len in [n - 1, n, n + 1, n + 5] {
                let (r, out) = whole(&f, at(from), &[], len, point(end));
                let mut streamed_out = Vec::new();
                let mut emit = |p: Bytes| {
                    streamed_out.extend_from_slice(&p);
                    true
                };
                let s =
                    crate::index::span::inflate_span(&f, at(from), &[], len, point(end), &mut emit);
                let case = format!("from {from} to {end}, {len} bytes");
                match (r.unwrap(), s) {
                    (Some(w), Ok(s)) => {
                        assert!(out == streamed_out, "{case}");
                        assert_eq!((w.crc, w.len, w.end), (s.crc, s.len, s.end), "{case}");
                        accepted += 1;
                    }
                    (None, Err(_)) => {}
                    (w, s) => panic!("{case}: whole {w:?}, streamed {s:?}"),
                }
            }
        }
    }
    assert_eq!(accepted, 1, "only the true point");
}
