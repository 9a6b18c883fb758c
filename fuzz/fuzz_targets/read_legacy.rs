//! The decoders of the formats gzip -d reads besides its own (compress's .Z, pack, a
//! zip file's first entry: coordinator/src/legacy/), on arbitrary bytes after their
//! magic. They must never panic nor hold more memory for more input; reach the same
//! verdict however reads are cut; with plain data passed through (-cdf) reach the same
//! verdict, the bytes after the last member copied instead of counted as trailing; and
//! what they accept must add up. pack's decoder must also give back what
//! `testing::pack` encoded from the bytes.
//!
//! Input: a byte choosing the format (its low two bits) and how many bytes each read
//! returns (the rest, 0: all at once), then the bytes after the magic (for pack's
//! round trip, the data to encode).

#![no_main]

use gzfleet_coordinator::{fuzzing, testing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let magic: &[u8] = match choice & 3 {
        0 => &[0x1f, 0x9d],
        1 => &[0x1f, 0x1e],
        2 => b"PK\x03\x04",
        _ => return round_trip(rest),
    };
    let file: Vec<u8> = magic.iter().chain(rest).copied().collect();
    let mut whole = Vec::new();
    let verdict = fuzzing::decompress(&file[..], &mut whole);
    let step = match usize::from(choice >> 2) {
        0 => file.len().max(1),
        n => n,
    };
    let mut cut = Vec::new();
    let dribble = fuzzing::Dribble { rest: &file, step };
    let dribbled = fuzzing::decompress_with(dribble, &mut cut, false);
    assert_eq!(
        verdict.as_ref().map_err(|e| fuzzing::invariant(e)),
        dribbled.as_ref().map_err(|e| fuzzing::invariant(e)),
        "the verdict depends on how reads are cut: {verdict:?} / {dribbled:?}"
    );
    let mut passed = Vec::new();
    let passing = fuzzing::decompress_with(&file[..], &mut passed, true);
    let stream = match verdict {
        Ok(stream) => stream,
        Err(e) => {
            assert_eq!(Some(e), passing.err(), "-cdf changes the verdict");
            return;
        }
    };
    assert!(whole == cut, "the bytes depend on how reads are cut");
    let trailing = stream.trailing_zeros + stream.trailing_garbage;
    let passing = passing.expect("-cdf refuses what is accepted");
    assert_eq!(passing.passed, trailing);
    assert_eq!(&passed[..whole.len()], &whole[..]);
    assert_eq!(&passed[whole.len()..], &file[file.len() - trailing as usize..]);
    assert_eq!(whole.len() as u64, stream.uncompressed);
    assert_eq!(crc32fast::hash(&whole), stream.crc);
    assert_eq!(
        stream.compressed + stream.trailing_zeros + stream.trailing_garbage,
        file.len() as u64
    );
});

fn round_trip(data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let packed = testing::pack(data);
    let mut out = Vec::new();
    let stream = fuzzing::decompress(&packed[..], &mut out).expect("pack's own output is refused");
    assert!(out == data, "pack's own output decodes to other bytes");
    assert_eq!(stream.foreign, 1);
}
