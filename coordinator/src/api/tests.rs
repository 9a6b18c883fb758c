//! The library's edge cases, as flate2's and gzp's suites test theirs; gzip itself
//! and flate2 judge what is written.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::process::{Command, Stdio};

use flate2::read::MultiGzDecoder;

use super::*;

fn data(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Compressible, not trivially: words from a small alphabet with noise.
            if i % 7 == 0 {
                (x % 251) as u8
            } else {
                b"fleet gzip "[(x % 11) as usize]
            }
        })
        .collect()
}

fn small() -> WriterBuilder {
    WriterBuilder::new().block_size(128 << 10).threads(2)
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(gz).read_to_end(&mut out).unwrap();
    out
}

/// The system's gzip -t on `gz`: true when it accepts it.
fn gzip_accepts(gz: &[u8]) -> bool {
    let mut child = Command::new("gzip")
        .args(["-t", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gzip on PATH");
    let _ = child.stdin.take().unwrap().write_all(gz);
    child.wait().unwrap().success()
}

fn written(b: &WriterBuilder, parts: &[&[u8]]) -> (Finished, Vec<u8>) {
    let mut w = b.build(Vec::new()).unwrap();
    for p in parts {
        w.write_all(p).unwrap();
    }
    w.finish_into_inner().unwrap()
}

#[test]
fn empty_input_is_one_valid_member() {
    let (done, gz) = written(&small(), &[]);
    assert!(gzip_accepts(&gz));
    assert_eq!(gunzip(&gz), b"");
    assert_eq!((done.input_bytes, done.chunks, done.crc32), (0, 0, 0));
    assert_eq!(done.output_bytes, gz.len() as u64);
    assert_eq!(decompress(&gz).unwrap(), b"");
    assert_eq!(decompress(b"").unwrap(), b"");
}

#[test]
fn zero_length_and_many_small_writes_give_the_bytes_of_one_write() {
    let input = data(700_000);
    let (one, whole) = written(&small(), &[&input]);
    let mut w = small().build(Vec::new()).unwrap();
    for piece in input.chunks(1000) {
        assert_eq!(w.write(&[]).unwrap(), 0);
        w.write_all(piece).unwrap();
    }
    let (many, pieces) = w.finish_into_inner().unwrap();
    assert!(
        pieces == whole,
        "how it is written must not change the bytes"
    );
    assert_eq!(one, many);
    assert_eq!(many.chunks, 6);
    assert_eq!(many.crc32, crc32fast::hash(&input));
    assert_eq!(gunzip(&whole), input);
    assert!(gzip_accepts(&whole));
}

#[test]
fn same_bytes_whatever_the_threads_and_levels_round_trip() {
    let input = data(600_000);
    for level in [1, 6, 9] {
        let one = written(&small().threads(1).level(level), &[&input]).1;
        let four = written(&small().threads(4).level(level), &[&input]).1;
        assert!(one == four, "level {level}: thread count changed the bytes");
        assert_eq!(decompress(&one).unwrap(), input);
    }
    let independent = written(&small().independent(true), &[&input]).1;
    assert_eq!(gunzip(&independent), input);
}

#[test]
fn header_holds_the_name_and_mtime() {
    let (_, gz) = written(&small().name("a.txt").mtime(1_234_567_890), &[b"x"]);
    let d = flate2::read::GzDecoder::new(&gz[..]);
    let header = d.header().unwrap();
    assert_eq!(header.filename(), Some(&b"a.txt"[..]));
    assert_eq!(header.mtime(), 1_234_567_890);
}

#[test]
fn settings_that_cannot_work_are_refused_before_writing() {
    let err = |b: WriterBuilder| b.build(Vec::new()).err().expect("refused");
    assert!(matches!(err(small().level(13)), Error::Settings(_)));
    assert!(matches!(err(small().block_size(1000)), Error::Settings(_)));
    assert!(matches!(
        err(small().engine("nonesuch")),
        Error::Settings(_)
    ));
    assert!(matches!(err(small().index(true)), Error::Settings(_)));
    assert!(err(small().level(13)).to_string().contains("level 13"));
}

#[test]
fn reads_every_member_and_ignores_trailing_data_as_gzip() {
    let mut gz = compress(b"first ", 6).unwrap();
    gz.extend(compress(b"second", 1).unwrap());
    let read = |bytes: Vec<u8>| {
        let mut r = Reader::new(io::Cursor::new(bytes)).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        (out, r.summary().unwrap())
    };
    let (out, s) = read(gz.clone());
    assert_eq!(out, b"first second");
    assert_eq!(s.members, 2);
    let (out, s) = read([&gz[..], &[0u8; 512]].concat());
    assert_eq!(
        (&out[..], s.trailing_zeros, s.trailing_garbage),
        (&b"first second"[..], 512, 0)
    );
    let (out, s) = read([&gz[..], b"garbage"].concat());
    assert_eq!((&out[..], s.trailing_garbage), (&b"first second"[..], 7));
    assert_eq!(
        decompress(&[&gz[..], b"garbage"].concat()).unwrap(),
        b"first second"
    );
    let (out, _) = read(Vec::new());
    assert!(
        out.is_empty(),
        "an empty input reads as empty, as Python's gzip"
    );
}

#[test]
fn truncated_input_is_unexpected_eof_and_corrupt_is_invalid_data() {
    let gz = compress(&data(300_000), 6).unwrap();
    for cut in [5, 20, gz.len() / 2, gz.len() - 4] {
        let mut r = Reader::new(io::Cursor::new(gz[..cut].to_vec())).unwrap();
        let e = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}: {e}");
        assert!(matches!(
            decompress(&gz[..cut]),
            Err(Error::Truncated { .. })
        ));
    }
    let mut bad = gz.clone();
    let n = bad.len();
    bad[n - 6] ^= 0xff; // the CRC
    let e = Reader::new(io::Cursor::new(bad))
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("CRC-32 mismatch"), "{e}");
    let not = decompress(b"plain text, not gzip").unwrap_err();
    assert!(matches!(not, Error::Corrupt { .. }));
    assert!(
        std::error::Error::source(&not).is_some(),
        "the cause is kept"
    );
}

#[test]
fn a_file_with_its_index_reads_in_parallel_and_seeks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.gz");
    let input = data(3 << 20);
    let mut w = small()
        .index(true)
        .index_span(256 << 10)
        .create(&path)
        .unwrap();
    w.write_all(&input).unwrap();
    w.finish().unwrap();
    assert!(dir.path().join("d.gzi").exists());
    let mut r = ReaderBuilder::new().threads(2).open(&path).unwrap();
    assert!(r.has_index());
    let mut all = Vec::new();
    r.read_to_end(&mut all).unwrap();
    assert!(all == input);
    assert!(r.summary().unwrap().indexed_spans > 1, "read in parallel");
    for at in [2_999_000u64, 17, 1 << 20, 3 << 20, 5 << 20] {
        assert_eq!(r.seek(SeekFrom::Start(at)).unwrap(), at);
        let mut got = vec![0u8; 1000];
        let n = read_full(&mut r, &mut got);
        let from = (at as usize).min(input.len());
        let want = &input[from..(from + 1000).min(input.len())];
        assert_eq!(&got[..n], want, "at {at}");
        assert_eq!(r.stream_position().unwrap(), at + n as u64);
    }
    r.seek(SeekFrom::Current(-1000)).unwrap();
    assert!(r.seek(SeekFrom::End(0)).is_err());
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]).unwrap() {
            0 => break,
            k => n += k,
        }
    }
    n
}

#[test]
fn without_an_index_a_file_still_seeks_from_the_start_and_a_stream_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.gz");
    let input = data(1 << 20);
    std::fs::write(&path, compress(&input, 6).unwrap()).unwrap();
    let mut r = Reader::open(&path).unwrap();
    assert!(!r.has_index());
    let mut head = [0u8; 100];
    r.seek(SeekFrom::Start(900_000)).unwrap();
    r.read_exact(&mut head).unwrap();
    assert_eq!(&head[..], &input[900_000..900_100]);
    r.seek(SeekFrom::Start(10)).unwrap();
    r.read_exact(&mut head).unwrap();
    assert_eq!(&head[..], &input[10..110]);
    let mut s = Reader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let e = s.seek(SeekFrom::Start(10)).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Unsupported);
}

#[test]
fn a_file_appears_only_when_finished_and_a_dropped_one_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.gz");
    let input = data(500_000);
    let mut w = small().index(true).create(&path).unwrap();
    w.write_all(&input).unwrap();
    w.flush().unwrap();
    assert!(!path.exists());
    let temporary = w.get_ref().temporary().unwrap().to_path_buf();
    assert!(temporary.exists());
    drop(w);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "dropped without finish: {left:?}");

    let mut w = small().create(&path).unwrap();
    w.write_all(&input).unwrap();
    let done = w.finish().unwrap();
    assert_eq!(gunzip(&std::fs::read(&path).unwrap()), input);
    assert_eq!(done.output_bytes, std::fs::metadata(&path).unwrap().len());
    assert!(matches!(small().create(&path), Err(Error::Exists(_))));
    assert!(small().overwrite(true).create(&path).is_ok());
}

#[test]
fn a_sink_dropped_without_finish_holds_no_trailer() {
    let input = data(400_000);
    let mut sink = Vec::new();
    {
        let mut w = small().build(&mut sink).unwrap();
        w.write_all(&input).unwrap();
        w.flush().unwrap();
    }
    assert!(
        !gzip_accepts(&sink),
        "a member cut short, which gzip refuses"
    );
    assert!(matches!(decompress(&sink), Err(Error::Truncated { .. })));
}

#[test]
fn flush_is_a_sync_point() {
    let mut w = small().build(Vec::new()).unwrap();
    w.write_all(b"before the flush").unwrap();
    w.flush().unwrap();
    // Everything so far decodes, though the member is not finished.
    let mut d = flate2::read::GzDecoder::new(&w.get_ref()[..]);
    let mut got = vec![0u8; 16];
    d.read_exact(&mut got).unwrap();
    assert_eq!(got, b"before the flush");
    w.write_all(b", and after").unwrap();
    let (_, gz) = w.finish_into_inner().unwrap();
    assert_eq!(gunzip(&gz), b"before the flush, and after");
}

#[test]
fn a_sink_that_fails_fails_the_next_call_and_every_one_after() {
    struct Full(usize);
    impl Write for Full {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.0 < b.len() {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            self.0 -= b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut w = small().build(Full(1000)).unwrap();
    let e = w.write_all(&data(2 << 20)).unwrap_err();
    assert_eq!(e.raw_os_error(), None);
    let inner = e.into_inner().unwrap().downcast::<Error>().unwrap();
    assert!(
        matches!(&*inner, Error::Io { source, .. } if source.raw_os_error() == Some(libc::ENOSPC))
    );
    assert!(w.write(b"more").is_err());
    assert!(w.finish().is_err());
}

#[test]
fn memory_stays_bounded_under_many_small_writes() {
    // 64 MiB in 1 KiB writes through a fleet of 2: chunks in flight never pass the
    // window, whatever the caller writes.
    let mut w = small().build(io::sink()).unwrap();
    let piece = data(1024);
    let mut most = 0;
    for _ in 0..(64 << 10) {
        w.write_all(&piece).unwrap();
        most = most.max(w.in_flight());
    }
    assert!(most <= 2 * (2 + 4) + 2, "{most} chunks in flight");
    assert_eq!(w.finish().unwrap().input_bytes, 64 << 20);
}
