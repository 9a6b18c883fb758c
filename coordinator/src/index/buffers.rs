//! Output buffers handed back and used again. A span inflated whole writes up to tens
//! of MiB into memory the kernel must first zero, page by page, when it is new: 11% of
//! all the CPU of `decompress -p 2` went to that (perf: `clear_page_erms`). So a span's
//! buffer, once its last piece is written and dropped, returns here, and the next span
//! takes it already mapped.
//!
//! Memory stays what the caller's budget allows, one share per span under way: a
//! buffer is only made when none is free, so there are never more than were once in
//! use at the same time (at most one per span under way). A span streamed instead
//! fills its share with pieces of its own, so while any is under way ([`Streaming`])
//! no buffer waits here: those waiting are let go, and those coming back too.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Buffers free for the next span.
pub(crate) struct Buffers {
    state: Mutex<State>,
    keep: usize,
}

#[derive(Default)]
struct State {
    free: Vec<Vec<u8>>,
    /// Spans being streamed now.
    streaming: usize,
}

impl Buffers {
    /// A pool that keeps at most `keep` buffers waiting.
    pub fn new(keep: usize) -> Arc<Buffers> {
        Arc::new(Buffers {
            state: Mutex::new(State::default()),
            keep,
        })
    }

    /// An empty buffer with room for at least `capacity` bytes: a free one when one is
    /// large enough, else a new one (a free one too small is let go, so the count of
    /// buffers does not grow).
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let found = self.lock().free.pop();
        match found {
            Some(mut buf) if buf.capacity() >= capacity => {
                buf.clear();
                buf
            }
            _ => Vec::with_capacity(capacity),
        }
    }

    /// `buf` as shared bytes that come back here when the last slice of them is dropped.
    pub fn share(self: &Arc<Self>, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Lent {
            buf,
            home: Arc::clone(self),
        })
    }

    /// Takes `buf` back to be used again, unless enough wait or a span is streamed.
    pub fn give_back(&self, buf: Vec<u8>) {
        let mut state = self.lock();
        if state.free.len() < self.keep && state.streaming == 0 {
            state.free.push(buf);
        }
    }

    /// Marks a span as streamed until the guard is dropped; the buffers waiting go.
    pub fn streaming(self: &Arc<Self>) -> Streaming {
        let idle = {
            let mut state = self.lock();
            state.streaming += 1;
            std::mem::take(&mut state.free)
        };
        drop(idle);
        Streaming(Arc::clone(self))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A thread that panicked holding the lock left a list of whole buffers and a
        // count: still good to use.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.lock().free.len()
    }
}

/// A span being streamed (see [`Buffers::streaming`]).
pub(crate) struct Streaming(Arc<Buffers>);

impl Drop for Streaming {
    fn drop(&mut self) {
        self.0.lock().streaming -= 1;
    }
}

/// A buffer out on loan as [`Bytes`].
struct Lent {
    buf: Vec<u8>,
    home: Arc<Buffers>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.home.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_when_its_last_slice_is_dropped() {
        let pool = Buffers::new(2);
        let mut buf = pool.take(1 << 20);
        buf.extend_from_slice(b"hello");
        let at = buf.as_ptr();
        let bytes = pool.share(buf);
        let tail = bytes.slice(3..);
        drop(bytes);
        assert_eq!(pool.waiting(), 0, "a slice still holds it");
        assert_eq!(&tail[..], b"lo");
        drop(tail);
        assert_eq!(pool.waiting(), 1);
        let again = pool.take(1000);
        assert_eq!(again.as_ptr(), at, "the same memory, used again");
        assert!(again.is_empty() && again.capacity() >= 1 << 20);
    }

    #[test]
    fn a_buffer_too_small_is_let_go_and_a_new_one_made() {
        let pool = Buffers::new(2);
        drop(pool.share(pool.take(100)));
        assert_eq!(pool.waiting(), 1);
        let big = pool.take(1 << 20);
        assert!(big.capacity() >= 1 << 20);
        assert_eq!(pool.waiting(), 0, "the small one is gone, not kept beside");
    }

    #[test]
    fn while_a_span_streams_no_buffer_waits() {
        let pool = Buffers::new(4);
        drop(pool.share(pool.take(64)));
        let lent = pool.share(pool.take(64));
        assert_eq!(pool.waiting(), 0);
        drop(pool.share(pool.take(64)));
        assert_eq!(pool.waiting(), 1);
        let streaming = pool.streaming();
        assert_eq!(pool.waiting(), 0, "the one waiting is let go");
        drop(lent);
        assert_eq!(pool.waiting(), 0, "one coming back is let go too");
        drop(streaming);
        drop(pool.share(pool.take(64)));
        assert_eq!(pool.waiting(), 1, "kept again once no span streams");
    }

    #[test]
    fn no_more_than_keep_wait() {
        let pool = Buffers::new(2);
        let lent: Vec<Bytes> = (0..5).map(|_| pool.share(pool.take(64))).collect();
        drop(lent);
        assert_eq!(pool.waiting(), 2);
    }
}
