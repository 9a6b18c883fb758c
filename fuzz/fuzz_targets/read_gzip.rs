//! The gzip reader behind `gzfleet test`, `list` and `decompress`, on arbitrary bytes.
//! It must never panic; it must reach the same verdict however the reads that bring
//! the input are cut, and the same through `decompress` as through `test`; what it
//! accepts must add up (its size and CRC are those of what it wrote), and flate2's
//! MultiGzDecoder must decode the same bytes from it. (Where we refuse, flate2 may
//! accept: we are stricter about reserved flags and what follows the last member.)
//!
//! Input: one byte choosing how many bytes each read returns (0: all at once), then
//! the file.

#![no_main]

use std::io::Read;

use flate2::read::MultiGzDecoder;
use gzfleet_coordinator::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&step, file)) = data.split_first() else {
        return;
    };
    let verdict = fuzzing::test(file);
    let step = if step == 0 {
        file.len().max(1)
    } else {
        step as usize
    };
    let dribbled = fuzzing::test(fuzzing::Dribble { rest: file, step });
    assert_eq!(
        verdict.as_ref().map_err(|e| fuzzing::invariant(e)),
        dribbled.as_ref().map_err(|e| fuzzing::invariant(e)),
        "the verdict depends on how reads are cut: {verdict:?} / {dribbled:?}"
    );

    let mut ours = Vec::new();
    let decoded = fuzzing::decompress(file, &mut ours);
    match (&verdict, &decoded) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        // The same problem; `test` names the input, `decompress`'s decoder does not.
        (Err(a), Err(b)) => assert!(a.ends_with(b.as_str()), "{a} / {b}"),
        _ => panic!("test says {verdict:?}, decompress says {decoded:?}"),
    }
    let Ok(stream) = decoded else {
        return;
    };
    assert_eq!(ours.len() as u64, stream.uncompressed);
    assert_eq!(crc32fast::hash(&ours), stream.crc);
    assert_eq!(
        stream.compressed + stream.trailing_zeros + stream.trailing_garbage,
        file.len() as u64
    );
    assert!(stream.members >= 1);
    // flate2 reads gzip members only.
    if stream.trailing_zeros == 0 && stream.trailing_garbage == 0 && stream.foreign == 0 {
        let mut theirs = Vec::new();
        MultiGzDecoder::new(file)
            .read_to_end(&mut theirs)
            .expect("flate2 refuses a stream we accept");
        assert!(theirs == ours, "flate2 decodes other bytes");
    }
});
