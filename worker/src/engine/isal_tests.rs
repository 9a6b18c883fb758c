//! Tests of the ISA-L engine: its chunks decode (with their dictionary) through zlib,
//! gzip, pigz and Python's gzip, are never final, end with a sync marker, and are the same bytes
//! whatever ran before them.

use std::io::Write;
use std::process::{Command, Stdio};

use super::*;
use crate::blocks::{self, BlockKind};
use crate::test_data::{raw_inflate, words, xorshift};

/// A final fixed-Huffman block holding only its end code: appended to a chunk, it
/// makes the stream complete so that a decoder or the block walker can check it.
const FINAL_EMPTY_BLOCK: [u8; 2] = [0x03, 0x00];

/// Raw-inflates a whole stream (which must end with a final block) primed with
/// `dictionary`; None if zlib rejects it.
fn inflate(deflate: &[u8], dictionary: &[u8]) -> Option<Vec<u8>> {
    raw_inflate(deflate, dictionary, true)
}

fn closed(chunk: &[u8]) -> Vec<u8> {
    [chunk, &FINAL_EMPTY_BLOCK].concat()
}

/// Incompressible bytes (from bits 24..32 of each step, as these tests always drew
/// them: other bytes than `test_data::noise`).
fn random(len: usize, seed: u64) -> Vec<u8> {
    xorshift(seed).take(len).map(|x| (x >> 24) as u8).collect()
}

/// Words with near and far repeats, like text.
fn compressible(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 10] = [
        "deflate ", "chunk ", "the ", "igzip ", "window\n", "of ", "4096 ", "a ", "stream ",
        "worker ",
    ];
    words(len, seed, &WORDS)
}

/// The standard vectors: empty, one byte, the window size and its neighbours,
/// incompressible and compressible data several blocks long.
fn vectors() -> Vec<(String, Vec<u8>)> {
    let mut v = vec![
        ("0 bytes".to_string(), Vec::new()),
        ("1 byte".to_string(), b"x".to_vec()),
    ];
    for len in [MAX_DICTIONARY - 1, MAX_DICTIONARY, MAX_DICTIONARY + 1] {
        v.push((format!("{len} compressible bytes"), compressible(len, 7)));
    }
    v.push(("300000 random bytes".to_string(), random(300_000, 3)));
    v.push(("1 MiB compressible".to_string(), compressible(1 << 20, 11)));
    v
}

/// Asserts everything a chunk must be: it decodes to `data` with `dictionary`, it
/// ends with the sync marker, and no block in it is final.
fn assert_chunk(chunk: &[u8], data: &[u8], dictionary: &[u8], what: &str) {
    assert!(
        chunk.ends_with(&[0, 0, 0xff, 0xff]),
        "{what}: no sync marker"
    );
    let whole = closed(chunk);
    let walk = blocks::walk(&whole).unwrap_or_else(|e| panic!("{what}: {e}"));
    let (last, inner) = walk.blocks.split_last().unwrap();
    assert_eq!(
        last.start_bit,
        chunk.len() as u64 * 8,
        "{what}: early final"
    );
    assert_eq!(walk.end_bit, whole.len() as u64 * 8 - 6, "{what}");
    assert!(
        inner.iter().all(|b| !b.last),
        "{what}: a final block inside"
    );
    assert_eq!(
        inner.last().map(|b| b.kind),
        Some(BlockKind::Stored),
        "{what}"
    );
    let out = inflate(&whole, dictionary);
    assert!(out.as_deref() == Some(data), "{what}: does not round-trip");
}

#[test]
fn every_level_round_trips_the_standard_vectors_with_and_without_dictionary() {
    let dictionary = compressible(MAX_DICTIONARY, 5);
    for level in LEVELS {
        for (name, data) in vectors() {
            for dict in [&[][..], &dictionary[..]] {
                let what = format!("level {level}, {name}, {} B dictionary", dict.len());
                let chunk = deflate(&data, dict, level).unwrap();
                assert_chunk(&chunk, &data, dict, &what);
            }
        }
    }
}

#[test]
fn compressible_data_shrinks_and_random_data_grows_no_more_than_stored_blocks() {
    for level in LEVELS {
        let text = compressible(1 << 20, 13);
        assert!(deflate(&text, &[], level).unwrap().len() < text.len() / 3);
        for len in [1, 1000, MAX_STORED, MAX_STORED + 1, 1 << 20] {
            let noise = random(len, 17);
            let out = deflate(&noise, &[], level).unwrap();
            // 5 bytes per 65535-byte stored block, and the 5-byte sync marker.
            let bound = len + 5 * len.div_ceil(65_535) + 5;
            assert!(out.len() <= bound, "level {level}, {len} B: {}", out.len());
            assert_chunk(&out, &noise, &[], &format!("level {level}, {len} random B"));
        }
    }
}

#[test]
fn the_stored_fallback_is_exactly_stored_blocks() {
    // Level 0 on random data takes the fallback: two full blocks, one short, marker.
    let noise = random(2 * MAX_STORED + 10, 71);
    let out = deflate(&noise, &[], 0).unwrap();
    let kinds: Vec<_> = blocks::walk(&closed(&out)).unwrap().blocks;
    let starts: Vec<u64> = kinds.iter().map(|b| b.start_bit / 8).collect();
    let first = 5 + MAX_STORED as u64;
    assert_eq!(
        starts,
        [0, first, 2 * first, 2 * first + 15, 2 * first + 20]
    );
    assert!(
        kinds[..4]
            .iter()
            .all(|b| b.kind == BlockKind::Stored && !b.last)
    );
    assert_eq!(&out[2 * first as usize..][..5], &[0, 10, 0, 0xf5, 0xff]);
}

#[test]
fn chunks_primed_with_the_previous_window_concatenate_into_one_stream() {
    let mut data = compressible(3 << 20, 19);
    data.extend(random(200_000, 23));
    data.extend(compressible(1 << 20, 29));
    for level in LEVELS {
        let mut stream = Vec::new();
        for (i, chunk) in data.chunks(1 << 20).enumerate() {
            let start = i << 20;
            let dictionary = &data[start.saturating_sub(MAX_DICTIONARY)..start];
            stream.extend(deflate(chunk, dictionary, level).unwrap());
        }
        let whole = closed(&stream);
        assert!(inflate(&whole, &[]).as_deref() == Some(&data[..]));
        let member = gzip_member(&whole, &data);
        for tool in GUNZIPS {
            assert!(
                gunzip_with(tool, &member) == data,
                "{tool:?}, level {level}"
            );
        }
    }
}

/// One gzip member around complete raw deflate data.
fn gzip_member(deflate: &[u8], data: &[u8]) -> Vec<u8> {
    let mut member = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    member.extend_from_slice(deflate);
    member.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    member.extend_from_slice(&(data.len() as u32).to_le_bytes());
    member
}

/// Independent decoders, each reading a gzip file on stdin and writing its data.
const GUNZIPS: [&[&str]; 3] = [
    &["gzip", "-dc"],
    &["pigz", "-dc"],
    &[
        "python3",
        "-c",
        "import gzip, sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))",
    ],
];

fn gunzip_with(tool: &[&str], member: &[u8]) -> Vec<u8> {
    let mut child = Command::new(tool[0])
        .args(&tool[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let member = member.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&member));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{tool:?} failed");
    out.stdout
}

#[test]
fn output_is_the_same_whatever_ran_before_on_the_thread() {
    let dictionary = compressible(MAX_DICTIONARY, 31);
    let inputs = [
        compressible(200_000, 37),
        random(100_000, 41),
        compressible(70_000, 43),
    ];
    let jobs: Vec<(usize, u32, bool)> = (0..inputs.len())
        .flat_map(|i| LEVELS.flat_map(move |l| [(i, l, false), (i, l, true)]))
        .collect();
    let run = |&(i, level, primed): &(usize, u32, bool)| {
        let dict = if primed { &dictionary[..] } else { &[][..] };
        deflate(&inputs[i], dict, level).unwrap()
    };
    let first: Vec<Vec<u8>> = jobs.iter().map(run).collect();
    // The same jobs again, backwards, each after unrelated work at another level.
    for (k, job) in jobs.iter().enumerate().rev() {
        deflate(&random(50_000, k as u64), &dictionary, 3 - job.1).unwrap();
        assert_eq!(run(job), first[k], "job {job:?} after other work");
    }
    // And on a thread that never compressed anything.
    let fresh = std::thread::scope(|s| s.spawn(|| jobs.iter().map(run).collect::<Vec<_>>()).join());
    assert!(fresh.unwrap() == first, "a fresh thread gave other bytes");
}

#[test]
fn output_does_not_depend_on_bytes_past_the_chunk() {
    let data = compressible(100_000, 47);
    for level in LEVELS {
        let mut a = data.clone();
        a.extend(random(4096, 53));
        let mut b = data.clone();
        b.extend(compressible(4096, 59));
        let (a, b) = (&a[..data.len()], &b[..data.len()]);
        assert_eq!(
            deflate(a, &[], level).unwrap(),
            deflate(b, &[], level).unwrap()
        );
    }
}

#[test]
fn the_dictionary_is_used_and_needed_to_decode() {
    // Random: only the dictionary can make it shrink.
    let dictionary = random(MAX_DICTIONARY, 61);
    let data = dictionary[1000..20_000].to_vec();
    for level in LEVELS {
        let primed = deflate(&data, &dictionary, level).unwrap();
        let plain = deflate(&data, &[], level).unwrap();
        assert!(
            primed.len() * 4 < plain.len(),
            "level {level}: primed {} vs {}",
            primed.len(),
            plain.len()
        );
        let whole = closed(&primed);
        assert!(inflate(&whole, &dictionary).as_deref() == Some(&data[..]));
        assert!(inflate(&whole, &[]).as_deref() != Some(&data[..]));
    }
}

#[test]
fn rejects_levels_outside_isal_and_oversized_dictionaries() {
    assert_eq!(deflate(b"x", &[], 4), Err(IsalError::Level(4)));
    let big = vec![0u8; MAX_DICTIONARY + 1];
    assert_eq!(
        deflate(b"x", &big, 1),
        Err(IsalError::Dictionary(MAX_DICTIONARY + 1))
    );
}

#[test]
fn version_names_the_isal_sys_that_cargo_lock_pins() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
        .expect("the workspace's Cargo.lock");
    let pinned = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"isal-sys\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .expect("isal-sys in Cargo.lock")
        .trim_matches('"');
    assert_eq!(
        pinned, ISAL_SYS_VERSION,
        "update ISAL_SYS_VERSION and ISAL_RELEASE"
    );
    assert!(version().contains(pinned));
}
