//! Every engine against zlib's inflater: the standard vectors at every level, the
//! final-bit surgery on the shapes libdeflate's output takes, libdeflate's priming and
//! level ladder, determinism across reused state, and the fingerprints.

use super::*;
use crate::blocks::{BlockKind, walk};
use crate::test_data::{noise, raw_inflate};

/// An open chunk (no final block), all of it read.
fn inflate(deflate: &[u8], dictionary: &[u8]) -> Vec<u8> {
    raw_inflate(deflate, dictionary, false).expect("inflates whole, nothing after an end")
}

fn sample(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).rotate_left(7) as u8 % 17 + b'a')
        .collect()
}

/// Checks the contract on one chunk's output: inflates to `data` (with the dictionary
/// where the engine takes one), no block is final, and it ends with the sync marker.
fn check_chunk(engine: Engine, data: &[u8], dictionary: &[u8], level: u32) -> ChunkOutput {
    let what = format!("{engine} level {level}, {} bytes", data.len());
    let out = engine.compress(data, dictionary, level).expect(&what);
    assert!(
        out.deflate.ends_with(&[0, 0, 0xff, 0xff]),
        "{what}: no sync marker"
    );
    assert_eq!(inflate(&out.deflate, dictionary), data, "{what}");
    assert_eq!(out.crc32, crc32fast::hash(data), "{what}");
    assert_eq!(out.input_len, data.len() as u64, "{what}");
    // Closed with a final empty fixed block, the walk must end in that block: any
    // final block before it would end the stream early.
    let mut closed = out.deflate.clone();
    closed.extend_from_slice(&[0x03, 0x00]);
    let walked = walk(&closed).expect(&what);
    let finals = walked.blocks.iter().filter(|b| b.last).count();
    assert_eq!(finals, 1, "{what}: a final block inside the chunk");
    assert_eq!(walked.end_bit, (closed.len() * 8 - 6) as u64, "{what}");
    out
}

#[test]
fn every_engine_at_every_level_on_the_standard_vectors() {
    let text = sample(300_000);
    let vectors: Vec<Vec<u8>> = vec![
        vec![],
        b"x".to_vec(),
        text[..32 * 1024 - 1].to_vec(),
        text[..32 * 1024].to_vec(),
        text[..32 * 1024 + 1].to_vec(),
        text[..65_535].to_vec(),
        text[..65_536].to_vec(),
        text[..65_537].to_vec(),
        noise(100_000, 7),
        text.clone(),
    ];
    let dictionary = noise(MAX_DICTIONARY, 3);
    for &engine in Engine::ALL {
        for level in engine.levels() {
            for data in &vectors {
                check_chunk(engine, data, &[], level);
                if engine.takes_dictionary() {
                    check_chunk(engine, data, &dictionary, level);
                }
            }
        }
    }
}

#[test]
fn the_dictionary_is_used_and_required() {
    let dict = sample(MAX_DICTIONARY);
    let data = dict[1000..9000].to_vec();
    let primed = compress_chunk(&data, &dict, 6).unwrap();
    let plain = compress_chunk(&data, &[], 6).unwrap();
    assert!(primed.deflate.len() * 4 < plain.deflate.len());
    assert_eq!(inflate(&primed.deflate, &dict), data);
}

/// libdeflate's priming (the patched compressor's dictionary) at every level: a chunk
/// that repeats its dictionary, near (its last bytes) or as far back as libdeflate's
/// matchfinder reaches (32767 bytes), deflates to a fraction of what it does alone and inflates
/// with that dictionary only.
#[test]
fn libdeflate_primes_chunks_with_the_dictionary_at_every_level() {
    let dict = noise(MAX_DICTIONARY, 21);
    for (what, data) in [
        ("near", dict[MAX_DICTIONARY - 9000..].to_vec()),
        ("far", dict[1..9001].to_vec()),
    ] {
        for level in 1..=12 {
            let primed = check_chunk(Engine::Libdeflate, &data, &dict, level);
            let plain = check_chunk(Engine::Libdeflate, &data, &[], level);
            assert!(
                primed.deflate.len() * 20 < plain.deflate.len(),
                "{what}, level {level}: {} primed vs {} alone",
                primed.deflate.len(),
                plain.deflate.len()
            );
            let other = noise(MAX_DICTIONARY, 22);
            assert_ne!(
                raw_inflate(&primed.deflate, &other, false),
                Some(data.clone()),
                "{what}, level {level}: inflates without its dictionary"
            );
        }
    }
}

/// Dictionaries of every length that reaches a chunk (the first chunks of an input
/// have less than 32 KiB before them), with chunks shorter than a match, around
/// libdeflate's passthrough sizes, and long enough to slide the window: each inflates
/// to its chunk with its dictionary, at every level.
#[test]
fn libdeflate_takes_dictionaries_of_any_length_up_to_the_window() {
    let text = sample(MAX_DICTIONARY + 200_000);
    for dict_len in [1, 3, 100, 4096, MAX_DICTIONARY - 1, MAX_DICTIONARY] {
        let dict = &text[MAX_DICTIONARY - dict_len..MAX_DICTIONARY];
        for len in [1, 2, 4, 5, 8, 30, 60, 258, 5000, 200_000] {
            let data = &text[MAX_DICTIONARY..MAX_DICTIONARY + len];
            for level in 0..=12 {
                check_chunk(Engine::Libdeflate, data, dict, level);
            }
        }
    }
}

/// The rungs of the ladder past libdeflate's lazy parsers: 10 (one optimization pass)
/// is smaller than 9, 11 (two passes) smaller than 10, 12 smaller than 9; and rungs
/// that are libdeflate's own levels compress as those levels do.
#[test]
fn the_level_ladder_climbs() {
    // Text-like: words with repeats near and far (the fingerprint's sample).
    let mut data = fingerprint_sample();
    data.extend(noise(20_000, 4));
    data.extend(fingerprint_sample().iter().rev());
    let size = |level| {
        Engine::Libdeflate
            .compress(&data, &[], level)
            .unwrap()
            .deflate
            .len()
    };
    let sizes: Vec<usize> = (0..=12).map(size).collect();
    assert!(sizes[10] < sizes[9], "{sizes:?}");
    assert!(sizes[11] < sizes[10], "{sizes:?}");
    assert!(sizes[12] < sizes[9], "{sizes:?}");
    assert!(sizes[1] > sizes[5] && sizes[5] > sizes[9], "{sizes:?}");
    let stock = |level| {
        let mut raw = raw_libdeflate(&data, level);
        crate::blocks::end_open(&mut raw).unwrap();
        raw.len()
    };
    assert_eq!(sizes[11], stock(10));
    assert_eq!(sizes[12], stock(12));
}

/// What libdeflate itself makes of `data`, before the surgery.
fn raw_libdeflate(data: &[u8], level: u32) -> Vec<u8> {
    let lvl = libdeflater::CompressionLvl::new(level as i32).unwrap();
    let mut c = libdeflater::Compressor::new(lvl);
    let mut out = vec![0; c.deflate_compress_bound(data.len())];
    let n = c.deflate_compress(data, &mut out).unwrap();
    out.truncate(n);
    out
}

/// The surgery on each shape libdeflate's output takes: the raw output is checked to
/// have that shape first, so a libdeflate that changed its choices fails here rather
/// than leaving a case untested.
#[test]
fn surgery_on_every_shape_of_libdeflate_output() {
    let kinds = |data: &[u8], level: u32| -> Vec<BlockKind> {
        let raw = raw_libdeflate(data, level);
        let w = walk(&raw).unwrap();
        assert!(w.blocks.last().unwrap().last);
        w.blocks.iter().map(|b| b.kind).collect()
    };
    let stored = noise(5000, 11);
    assert_eq!(kinds(&stored, 6), [BlockKind::Stored]);
    check_chunk(Engine::Libdeflate, &stored, &[], 6);
    let tiny = &b"abc".repeat(40);
    assert_eq!(kinds(tiny, 6), [BlockKind::Fixed]);
    check_chunk(Engine::Libdeflate, tiny, &[], 6);
    let text = sample(20_000);
    assert_eq!(kinds(&text, 6), [BlockKind::Dynamic]);
    check_chunk(Engine::Libdeflate, &text, &[], 6);
    // Text then noise then text: libdeflate splits blocks where the statistics change.
    let mut mixed = sample(200_000);
    mixed.extend(noise(200_000, 5));
    mixed.extend(sample(200_000));
    assert!(kinds(&mixed, 6).len() >= 3, "{:?}", kinds(&mixed, 6));
    check_chunk(Engine::Libdeflate, &mixed, &[], 6);
    assert_eq!(kinds(b"x", 6).len(), 1);
    check_chunk(Engine::Libdeflate, b"x", &[], 6);
    assert_eq!(kinds(b"", 6).len(), 1);
    check_chunk(Engine::Libdeflate, b"", &[], 6);
}

/// gzfleet's patched copy of libdeflate (worker/libdeflate) must give exactly stock
/// libdeflate's bytes with the final block opened by the block walker's surgery: at
/// every level, through the stored-only path (level 0, and inputs at and around each
/// level's passthrough size), several stored blocks, one block, many blocks, and
/// outputs whose last block ends on a byte boundary.
#[test]
fn the_patched_compressor_is_stock_libdeflate_opened() {
    let mut mixed = sample(300_000);
    mixed.extend(noise(300_000, 3));
    mixed.extend(sample(300_000));
    let text = sample(4000);
    let mut vectors: Vec<&[u8]> = vec![
        b"",
        b"x",
        &text[..100],
        &text,
        &mixed,
        &mixed[300_000..(300_000 + 65_535)],
        &mixed[300_000..(300_000 + 65_536)],
        &mixed[300_000..(300_000 + 2 * 65_535 + 1)],
    ];
    for len in (0..=56).step_by(4).flat_map(|n| [n.max(1) - 1, n, n + 1]) {
        vectors.push(&text[..len]);
    }
    // The ladder's rungs that are libdeflate's own levels: the others tune its search.
    let stock = |r: &super::libdeflate::Rung| r.depth == 0 && r.nice == 0 && r.passes == 0;
    let levels = (0..=12u32).filter(|&l| stock(&super::libdeflate::LADDER[l as usize]));
    for level in levels {
        let libdeflate_level = super::libdeflate::LADDER[level as usize].libdeflate;
        let mut aligned = 0;
        for len in 1..600 {
            let raw = raw_libdeflate(&text[..len], libdeflate_level);
            if aligned < 3 && walk(&raw).unwrap().end_bit.is_multiple_of(8) {
                vectors.push(&text[..len]);
                aligned += 1;
            }
        }
        for data in &vectors {
            let mut opened = raw_libdeflate(data, libdeflate_level);
            crate::blocks::end_open(&mut opened).unwrap();
            let ours = Engine::Libdeflate.compress(data, &[], level).unwrap();
            assert_eq!(ours.deflate, opened, "level {level}, {} bytes", data.len());
        }
        vectors.truncate(vectors.len() - aligned);
    }
}

/// A final block that ends exactly on a byte boundary leaves no padding: the marker's
/// header then needs a byte of its own. Found by search, so it is the real case.
#[test]
fn surgery_when_the_last_block_ends_on_a_byte_boundary() {
    let text = sample(4000);
    let mut found = 0;
    for len in 1..text.len() {
        let raw = raw_libdeflate(&text[..len], 6);
        if walk(&raw).unwrap().end_bit.is_multiple_of(8) {
            check_chunk(Engine::Libdeflate, &text[..len], &[], 6);
            found += 1;
            if found == 5 {
                return;
            }
        }
    }
    panic!("no input of up to 4000 bytes ends libdeflate's output on a byte boundary");
}

/// The pattern of the zlib-rs reset bug: state left from one chunk must not change the
/// next one's bytes. Each engine compresses A, then other inputs at every level, then A
/// again on the same thread, and A on a fresh thread: all three the same.
#[test]
fn reused_engine_state_never_changes_the_bytes() {
    let a = sample(150_000);
    let b = noise(150_000, 9);
    let (dict, rest) = a.split_at(MAX_DICTIONARY);
    for &engine in Engine::ALL {
        for level in engine.levels() {
            let run = |data: &[u8], dict: &[u8]| engine.compress(data, dict, level).unwrap();
            let first = (run(&a, &[]), run(rest, dict));
            for other in engine.levels() {
                engine.compress(&b, &[], other).unwrap();
                engine.compress(&b, dict, other).unwrap();
                engine.compress(&a[..777], &[], other).unwrap();
            }
            let again = (run(&a, &[]), run(rest, dict));
            let a2 = a.clone();
            let fresh = std::thread::spawn(move || {
                let (dict, rest) = a2.split_at(MAX_DICTIONARY);
                let run = |data: &[u8], dict: &[u8]| engine.compress(data, dict, level).unwrap();
                (run(&a2, &[]), run(rest, dict))
            })
            .join()
            .unwrap();
            assert_eq!(first, again, "{engine} level {level}");
            assert_eq!(first, fresh, "{engine} level {level}");
        }
    }
}

#[test]
fn ids_are_stable_distinct_and_fingerprinted() {
    let zlib = Engine::ZlibRs.id();
    assert!(zlib.starts_with("flate2-zlib-rs;sync-flush;v2;"), "{zlib}");
    assert_eq!(zlib.len(), "flate2-zlib-rs;sync-flush;v2;".len() + 8);
    assert_eq!(engine_id(), zlib);
    let ld = Engine::Libdeflate.id();
    assert!(ld.starts_with("libdeflate;primed-ladder;v3;"), "{ld}");
    assert_ne!(zlib, ld);
    for &engine in Engine::ALL {
        assert_eq!(Engine::from_name(engine.name()), Some(engine));
    }
    assert_eq!(Engine::from_name("gzip"), None);
}

#[test]
fn levels_outside_an_engine_are_refused() {
    for (engine, bad) in [(Engine::ZlibRs, 10), (Engine::Libdeflate, 13)] {
        let e = engine.compress(b"x", &[], bad).unwrap_err();
        assert!(
            matches!(e, EngineError::Level { level, .. } if level == bad),
            "{e}"
        );
        assert!(e.to_string().contains(engine.name()), "{e}");
    }
    let big = vec![0u8; MAX_DICTIONARY + 1];
    assert!(matches!(
        compress_chunk(b"x", &big, 6),
        Err(EngineError::Dictionary(_))
    ));
}
