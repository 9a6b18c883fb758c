//! The bound on chunks between the reader and the writer.
//!
//! The reader may hold chunk `i` only while `i < written + size`: every chunk read but
//! not yet written (queued, in flight, or waiting in the reorder buffer) counts, so
//! memory is at most `size` chunks whatever the input's length or the workers' order.

use std::sync::{Condvar, Mutex};

pub struct Window {
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    written: u64,
    size: u64,
    closed: bool,
}

impl Window {
    pub fn new(start: u64, size: usize) -> Self {
        Window {
            state: Mutex::new(State {
                written: start,
                size: size.max(1) as u64,
                closed: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// Blocks until chunk `index` fits; false once the window is closed.
    pub fn admit(&self, index: u64) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !s.closed && index >= s.written + s.size {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        !s.closed
    }

    /// Chunks below `written` are on their way to the output.
    pub fn advance(&self, written: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.written = s.written.max(written);
        self.changed.notify_all();
    }

    /// Grows or shrinks the window (as workers join or leave); chunks already admitted
    /// stay admitted.
    pub fn resize(&self, size: usize) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.size = size.max(1) as u64;
        self.changed.notify_all();
    }

    pub fn size(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).size as usize
    }

    /// Wakes and refuses every waiter: the job is over.
    pub fn close(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.closed = true;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn blocks_at_the_bound_until_the_writer_advances() {
        let w = Arc::new(Window::new(0, 2));
        assert!(w.admit(0));
        assert!(w.admit(1));
        let w2 = Arc::clone(&w);
        let t = std::thread::spawn(move || w2.admit(2));
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !t.is_finished(),
            "chunk 2 admitted with 0 written and a window of 2"
        );
        w.advance(1);
        assert!(t.join().unwrap());
    }

    #[test]
    fn close_releases_waiters() {
        let w = Arc::new(Window::new(0, 1));
        let w2 = Arc::clone(&w);
        let t = std::thread::spawn(move || w2.admit(5));
        std::thread::sleep(Duration::from_millis(20));
        w.close();
        assert!(!t.join().unwrap());
    }
}
