//! The worker's validation of a Compress request (worker/src/validate.rs), on any bytes
//! a client could send as the message: decoding and checking never panic, every refusal
//! becomes a status, and a request that passes is within every limit the worker
//! promises (the pool then commits memory for it on that promise).
//!
//! Input: one byte choosing the worker's --max-chunk, then the protobuf message.

#![no_main]

use gzfleet_proto::v1::CompressRequest;
use gzfleet_proto::v1::compress_request::Source;
use gzfleet_worker::limits::{MAX_ETAG, MAX_JOB_ID, MAX_PATH, MIN_CHUNK};
use gzfleet_worker::validate::check_request;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, message)) = data.split_first() else {
        return;
    };
    // Small limits too, so the fuzzer's short inputs reach the chunk-size check.
    let max_chunk = [1, 64, 4096, MIN_CHUNK][pick as usize % 4];
    let Ok(req) = CompressRequest::decode(message) else {
        return;
    };
    match check_request(&req, max_chunk) {
        Err(refused) => {
            let status = tonic::Status::from(refused);
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
        }
        Ok(engine) => {
            assert!(engine.levels().contains(&req.level), "level {}", req.level);
            assert!(req.independent || engine.takes_dictionary());
            match req.engine.as_str() {
                "" => assert_eq!(engine.name(), "zlib-rs"),
                name => assert_eq!(engine.name(), name),
            }
            assert!(req.job_id.len() <= MAX_JOB_ID);
            assert!(req.dictionary.len() <= 32 << 10);
            assert!(!req.independent || req.dictionary.is_empty());
            match &req.source {
                Some(Source::Data(chunk)) => assert!(chunk.len() as u64 <= max_chunk),
                Some(Source::Range(range)) => {
                    assert!(range.length <= max_chunk);
                    assert!(range.path.len() <= MAX_PATH);
                    assert!(range.etag.len() <= MAX_ETAG);
                    assert!(req.dictionary.is_empty());
                }
                None => panic!("a request without a chunk passed"),
            }
        }
    }
});
