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

/// Largest Compress response for chunks of up to `max_chunk` bytes.
pub fn response_limit(max_chunk: u64) -> usize {
    deflate_bound(max_chunk) as usize + MESSAGE_SLACK
}

/// HTTP/2 flow-control windows, for both ends. Chunks are megabytes; hyper's default
/// windows would stall a fast link on round trips.
pub const STREAM_WINDOW: u32 = 8 << 20;
pub const CONNECTION_WINDOW: u32 = 32 << 20;
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
}
