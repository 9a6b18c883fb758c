//! Output buffers handed back and used again. A span inflated whole writes up to tens
//! of MiB into memory the kernel must first zero, page by page, when it is new: 11% of
//! all the CPU of `decompress -p 2` went to that (perf: `clear_page_erms`). So a span's
//! buffer, once its last piece is written and dropped, returns here, and the next span
//! takes it already mapped.
//!
//! Memory stays what the caller's budget allows: a buffer is only made when none is
//! free, so there are never more than were once in use at the same time, and at most
//! `keep` of them wait here unused.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Buffers free for the next span.
pub(crate) struct Buffers {
    free: Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl Buffers {
    /// A pool that keeps at most `keep` buffers waiting.
    pub fn new(keep: usize) -> Arc<Buffers> {
        Arc::new(Buffers {
            free: Mutex::new(Vec::new()),
            keep,
        })
    }

    /// An empty buffer with room for at least `capacity` bytes: a free one when one is
    /// large enough, else a new one (a free one too small is let go, so the count of
    /// buffers does not grow).
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let found = self.lock().pop();
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

    fn give_back(&self, buf: Vec<u8>) {
        let mut free = self.lock();
        if free.len() < self.keep {
            free.push(buf);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // A thread that panicked holding the lock left a list of whole buffers: still
        // good to use.
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.lock().len()
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
    fn no_more_than_keep_wait() {
        let pool = Buffers::new(2);
        let lent: Vec<Bytes> = (0..5).map(|_| pool.share(pool.take(64))).collect();
        drop(lent);
        assert_eq!(pool.waiting(), 2);
    }
}
