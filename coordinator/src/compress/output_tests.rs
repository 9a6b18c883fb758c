//! An output and its index through the end of a job: a failure at the very end keeps
//! the partial output, its index and the journal together for `--resume` (or removes
//! all three when nothing was durable), and a file put in place takes the place of the
//! index that described the file it replaces.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;
use gzfleet_worker::engine::{Engine, compress_chunk};

use super::*;
use crate::compress::index_out::index_path;
use crate::compress::plan::Encoding;
use crate::gzip::trailer;
use crate::index::{Found, extract};

const CHUNK: usize = 64 << 10;
const WINDOW: usize = 32 << 10;
/// gzip's header with no name and no time.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];

fn data() -> Vec<u8> {
    (0..3 * CHUNK)
        .map(|i| (i % 251) as u8 ^ (i >> 12) as u8)
        .collect()
}

fn identity(input: &Path, len: usize) -> JobIdentity {
    JobIdentity {
        engine: Engine::ZlibRs.id().into(),
        encoding: Encoding {
            engine: Engine::ZlibRs,
            level: 6,
            block: CHUNK as u64,
            independent: false,
        },
        header: HEADER.to_vec(),
        input: input.to_path_buf(),
        input_size: len as u64,
        input_mtime_ns: 0,
        index_step: Some(1),
    }
}

/// Writes the chunks of `data` from chunk `from` on, each starting an index point, as
/// a job does; returns the stream's CRC and length at the end.
fn write_chunks(out: &mut Output, data: &[u8], from: usize, mut stream: StreamCrc) -> StreamCrc {
    for (i, chunk) in data.chunks(CHUNK).enumerate().skip(from) {
        let start = i * CHUNK;
        let window = &data[start.saturating_sub(WINDOW)..start];
        let deflate = compress_chunk(chunk, window, 6).unwrap().deflate;
        let crc = crc32fast::hash(chunk);
        stream.append(crc, chunk.len() as u64);
        let point = PointAt {
            offset: start as u64,
            window,
        };
        out.write_chunk(&deflate, crc, chunk.len() as u64, stream, Some(point))
            .unwrap();
    }
    stream
}

fn finish(out: Output, stream: StreamCrc) -> Result<u64, Error> {
    out.finish(&trailer(stream.crc, stream.len), None, stream.len)
}

/// `gz` inflates to `data`, and its index gives the range `at..at + len` of it.
fn assert_pair_reads(gz: &Path, data: &[u8], at: usize, len: usize) {
    let mut inflated = Vec::new();
    GzDecoder::new(fs::File::open(gz).unwrap())
        .read_to_end(&mut inflated)
        .unwrap();
    assert!(
        inflated == data,
        "{} does not inflate to its input",
        gz.display()
    );
    let Found::Usable(plan) = Found::look(gz, None) else {
        panic!("{}: no usable index beside it", gz.display());
    };
    let mut range = Vec::new();
    extract(&plan, at as u64, Some(len as u64), &mut range).unwrap();
    assert!(range == data[at..at + len], "the index gives wrong bytes");
}

#[test]
fn a_failure_at_the_very_end_keeps_output_index_and_journal_for_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (target, data) = (dir.path().join("data.gz"), data());
    let gzi = index_path(&target);
    let id = identity(&dir.path().join("data"), data.len());
    let index = IndexOut::create(&gzi, true).unwrap();
    let mut out = Output::create_file(
        &target,
        Some(id),
        Duration::from_secs(3600),
        true,
        Some(index),
    )
    .unwrap();
    out.write(&HEADER).unwrap();
    let stream = write_chunks(&mut out, &data, 0, StreamCrc::default());
    // The index is sealed, then the output cannot go in: a directory stands where the
    // old index would be removed.
    fs::create_dir(&gzi).unwrap();
    let failed = finish(out, stream);
    assert!(
        matches!(&failed, Err(Error::Kept { error, .. }) if matches!(**error, Error::StaleIndex { .. })),
        "{failed:?}"
    );
    for kept in [
        partial_path(&target),
        journal_path(&target),
        partial_path(&gzi),
    ] {
        assert!(kept.is_file(), "{} was not kept", kept.display());
    }
    assert!(!target.exists());
    let journal = Journal::read(&journal_path(&target)).unwrap();
    let mark = journal.durable.index.expect("the journal counts the index");
    assert_eq!((journal.durable.chunks, mark.points), (3, 3));

    // --resume continues both (from their durable point, here the last chunk) and
    // puts a pair in place that agrees.
    fs::remove_dir(&gzi).unwrap();
    let index = IndexOut::resume(&gzi, mark).unwrap();
    let out = Output::resume_file(&target, journal, Duration::ZERO, Some(index)).unwrap();
    finish(out, stream).unwrap();
    assert_pair_reads(&target, &data, CHUNK + 1000, CHUNK);
    for gone in [
        partial_path(&target),
        journal_path(&target),
        partial_path(&gzi),
    ] {
        assert!(!gone.exists(), "{} is left", gone.display());
    }
}

#[test]
fn a_failure_at_the_very_end_with_nothing_durable_removes_all_three() {
    let dir = tempfile::tempdir().unwrap();
    let (target, data) = (dir.path().join("data.gz"), data());
    let gzi = index_path(&target);
    let index = IndexOut::create(&gzi, true).unwrap();
    // No identity: a job that cannot be resumed keeps no journal, nothing is durable.
    let mut out = Output::create_file(&target, None, Duration::ZERO, true, Some(index)).unwrap();
    out.write(&HEADER).unwrap();
    let stream = write_chunks(&mut out, &data, 0, StreamCrc::default());
    fs::create_dir(&gzi).unwrap();
    let failed = finish(out, stream);
    assert!(
        matches!(&failed, Err(Error::StaleIndex { .. })),
        "{failed:?}"
    );
    for gone in [
        partial_path(&target),
        journal_path(&target),
        partial_path(&gzi),
    ] {
        assert!(!gone.exists(), "{} is left", gone.display());
    }
    assert!(gzi.is_dir() && !target.exists());
}

#[test]
fn a_file_put_in_place_without_an_index_removes_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let (target, data) = (dir.path().join("data.gz"), data());
    let gzi = index_path(&target);
    let old = &data[..CHUNK];
    let index = IndexOut::create(&gzi, true).unwrap();
    let mut out = Output::create_file(&target, None, Duration::ZERO, true, Some(index)).unwrap();
    out.write(&HEADER).unwrap();
    let stream = write_chunks(&mut out, old, 0, StreamCrc::default());
    finish(out, stream).unwrap();
    assert_pair_reads(&target, old, 100, 1000);
    let (old_gz, old_gzi) = (fs::read(&target).unwrap(), fs::read(&gzi).unwrap());

    // A run that fails before the end leaves the old pair as it was.
    let mut out = Output::create_file(&target, None, Duration::ZERO, true, None).unwrap();
    out.write(&HEADER).unwrap();
    write_chunks(&mut out, &data, 0, StreamCrc::default());
    drop(out);
    assert_eq!(fs::read(&target).unwrap(), old_gz);
    assert_eq!(fs::read(&gzi).unwrap(), old_gzi);

    let mut out = Output::create_file(&target, None, Duration::ZERO, true, None).unwrap();
    out.write(&HEADER).unwrap();
    let stream = write_chunks(&mut out, &data, 0, StreamCrc::default());
    finish(out, stream).unwrap();
    assert!(!gzi.exists(), "the old index is left beside the new file");
    assert!(matches!(Found::look(&target, None), Found::Absent));
}
