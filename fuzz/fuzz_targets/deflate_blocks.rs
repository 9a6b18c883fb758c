//! The deflate block walker (worker/src/blocks.rs) against zlib-rs's inflater on any
//! bytes: the walk never panics; where the inflater reads a whole stream, the walk
//! succeeds and ends in the same byte; and the data made open by `end_open`, closed
//! again with an empty final block, inflates to the same bytes.

#![no_main]

use flate2::{Decompress, FlushDecompress, Status};
use gzfleet_worker::blocks::{end_open, walk};
use libfuzzer_sys::fuzz_target;

/// Inflates a whole raw stream, to its final block: its output and how many input
/// bytes that took. None if the data is not such a stream (or inflates past 4 MiB,
/// which 16 KiB can ask for and is not what this tests).
fn inflate(data: &[u8]) -> Option<(Vec<u8>, u64)> {
    let mut d = Decompress::new(false);
    let mut out = Vec::with_capacity(4 << 20);
    match d.decompress_vec(data, &mut out, FlushDecompress::Finish) {
        Ok(Status::StreamEnd) => Some((out, d.total_in())),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let walked = walk(data);
    let Some((plain, used)) = inflate(data) else {
        let mut copy = data.to_vec();
        let _ = end_open(&mut copy);
        return;
    };
    let w = walked.unwrap_or_else(|e| panic!("zlib read a whole stream, the walk: {e}"));
    assert_eq!(w.end_bit.div_ceil(8), used, "the walk and zlib end in different bytes");
    let mut open = data.to_vec();
    end_open(&mut open).unwrap();
    open.extend_from_slice(&[0x03, 0x00]);
    let (again, _) = inflate(&open).expect("the reopened stream inflates");
    assert_eq!(again, plain);
});
