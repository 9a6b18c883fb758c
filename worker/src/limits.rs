//! The limits both ends of a connection share, so they cannot disagree: the chunk
//! sizes a coordinator may send, the gRPC message sizes those imply, and the HTTP/2
//! windows and frames both sides configure.

use crate::engine::{MAX_DICTIONARY, deflate_bound};

/// Smallest chunk a coordinator cuts: below it per-chunk costs (a fresh deflate state,
/// the 32 KiB dictionary sent along, a round trip) dominate.
pub const MIN_CHUNK: u64 = 128 << 10;
/// Largest chunk: above it a retry repeats too much work and memory per chunk grows.
/// Also the default of `gzfleet-worker --max-chunk`.
pub const MAX_CHUNK: u64 = 64 << 20;

/// Room for protobuf framing around the chunk and dictionary in one message.
const MESSAGE_SLACK: usize = 4096;

/// Largest Compress request for chunks of up to `max_chunk` bytes.
pub fn request_limit(max_chunk: u64) -> usize {
    max_chunk as usize + MAX_DICTIONARY + MESSAGE_SLACK
}

/// Largest Compress response for chunks of up to `max_chunk` bytes: the deflate data
/// and, when asked for (an index point), the 32 KiB window before the chunk.
pub fn response_limit(max_chunk: u64) -> usize {
    answer_limit(max_chunk, true)
}

/// Largest Compress response for one chunk of `len` bytes, with its window or not.
pub fn answer_limit(len: u64, window: bool) -> usize {
    let window = if window { MAX_DICTIONARY } else { 0 };
    deflate_bound(len) as usize + window + MESSAGE_SLACK
}

/// Largest message of any call but Compress (Info, the health checks): their requests
/// carry at most a service name, so a peer cannot make them buffer a chunk's worth.
pub const CONTROL_MESSAGE_LIMIT: usize = 4096;

/// Longest job id a request may carry. Ids only name a run in logs; a coordinator's
/// are about 30 bytes (its pid and start time), and a longer one would only be copied
/// into every log line.
pub const MAX_JOB_ID: usize = 256;
/// Longest path (or object URL) a pull request may name: Linux's PATH_MAX, which no
/// file a worker can open exceeds; an S3 URL is at most 5 + 63 + 1 + 1024 bytes.
pub const MAX_PATH: usize = 4096;
/// Longest ETag a pull request may carry: S3's are 34 bytes (quoted MD5, "-N" for a
/// multipart upload) and HTTP servers' short opaque strings; it is sent back to the
/// store in If-Match, where a huge one would only be refused there.
pub const MAX_ETAG: usize = 1024;

/// HTTP/2 flow-control windows, for both ends. Chunks are megabytes; hyper's default
/// windows would stall a fast link on round trips.
///
/// They are also what a peer can make a worker hold before the worker has decided
/// anything: up to a stream window of each request's body arrives while its headers are
/// being admitted, and at most a connection window on each connection, however many
/// streams it opens. So what a worker's memory holds, whatever clients do, is at most
/// (slots + queue) x `request_limit` for the requests it admitted, plus connections x
/// `CONNECTION_WINDOW` in flight (freed as soon as a refused stream is dropped), plus
/// connections x [`max_streams`] x 16 KiB of headers (hyper's header list limit), where
/// connections are at most `--max-connections` a port (`crate::connections`).
pub const STREAM_WINDOW: u32 = 8 << 20;
pub const CONNECTION_WINDOW: u32 = 32 << 20;

/// Streams a connection may have open at once beyond the requests the worker admits:
/// its health checks and Info probes, and a few requests that learn it is full.
pub const CONTROL_STREAMS: u32 = 8;

/// Streams a worker that admits `admitted` Compress requests at once (slots + queue)
/// lets one connection open: more could only be refused, and each costs a task and its
/// headers. A coordinator keeps at most slots + queue in flight on its one connection.
pub fn max_streams(admitted: usize) -> u32 {
    u32::try_from(admitted)
        .unwrap_or(u32::MAX)
        .saturating_add(CONTROL_STREAMS)
}
/// Largest HTTP/2 frame each end accepts. The default 16 KiB turns a 1 MiB chunk into
/// 64 frames and as many writev and recvfrom calls on each side; 1 MiB frames cut the
/// coordinator's system time several times over.
pub const MAX_FRAME: u32 = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_limits_cover_the_largest_chunk_at_its_worst() {
        // A request carries the chunk and a full dictionary; a response the deflate
        // bound (level 1 expands noise by 1/8).
        assert!(request_limit(MAX_CHUNK) > (MAX_CHUNK as usize + MAX_DICTIONARY));
        assert!(response_limit(MAX_CHUNK) > (MAX_CHUNK + MAX_CHUNK / 8) as usize);
    }

    #[test]
    fn stream_limit_leaves_room_for_probes_beside_a_full_worker() {
        assert_eq!(max_streams(3), 3 + CONTROL_STREAMS);
        assert_eq!(max_streams(usize::MAX), u32::MAX);
    }
}
