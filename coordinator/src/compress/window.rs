//! The bounds between the reader and the writer: on the items of the stream, and on
//! the outputs set up ahead.
//!
//! The reader may hold item `i` (a chunk, or a marker between inputs) only while
//! `i < written + size`: every item read but not yet written (queued, in flight, or
//! waiting in the reorder buffer) counts, so memory is at most `size` chunks whatever
//! the input's length or the workers' order. The size follows the fleet (twice what its
//! workers hold in flight, so a slow head chunk does not idle the rest) but never
//! passes [`WINDOW_BYTES`] of chunks.
//!
//! A batch of small files is a few items per file, so the window alone would let the
//! reader set up hundreds of outputs ahead of the writer, each holding a file
//! descriptor (or an upload): at most [`MAX_OUTPUTS`] are, each counted from its set-up
//! until the writer is done with it.

use std::sync::{Arc, Condvar, Mutex};

/// Memory bound for chunks held between reader and writer, whatever the fleet's size.
const WINDOW_BYTES: u64 = 512 << 20;
/// Fewest items: enough for the reader, one in flight and the writer to overlap.
const MIN_WINDOW: usize = 4;
/// Outputs set up and not yet finished: ahead enough to keep a fleet busy on small
/// files, far below any file descriptor limit.
pub(crate) const MAX_OUTPUTS: usize = 32;

pub(crate) struct Window {
    state: Mutex<State>,
    changed: Condvar,
    /// Bounds for [`Window::fit`], in chunks.
    min: usize,
    max: usize,
}

struct State {
    written: u64,
    size: u64,
    /// Outputs counted by [`OutputSlot`]s.
    outputs: usize,
    closed: bool,
}

/// One output's place under [`MAX_OUTPUTS`], given back when dropped.
pub(crate) struct OutputSlot(Arc<Window>);

impl Drop for OutputSlot {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        s.outputs -= 1;
        self.0.changed.notify_all();
    }
}

impl Window {
    /// A window of `size` chunks whose first is chunk `start`.
    pub fn new(start: u64, size: usize) -> Self {
        Window {
            state: Mutex::new(State {
                written: start,
                size: size.max(1) as u64,
                outputs: 0,
                closed: false,
            }),
            changed: Condvar::new(),
            min: size.max(1),
            max: size.max(1),
        }
    }

    /// A window for chunks of `block` bytes, fitted to a fleet that holds `capacity`
    /// chunks in flight, and refitted by [`Window::fit`] as workers come and go.
    pub fn for_fleet(start: u64, block: u64, capacity: usize) -> Self {
        let max = ((WINDOW_BYTES / block.max(1)) as usize).max(MIN_WINDOW);
        let mut w = Window::new(start, MIN_WINDOW);
        w.min = MIN_WINDOW;
        w.max = max;
        w.fit(capacity);
        w
    }

    /// Room for every worker's capacity twice over, within the bounds.
    pub fn fit(&self, capacity: usize) {
        let want = (2 * capacity + 2).clamp(self.min, self.max);
        if want != self.size() {
            self.resize(want);
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

    /// Blocks until another output may be set up; None once the window is closed.
    pub fn admit_output(self: &Arc<Self>) -> Option<OutputSlot> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !s.closed && s.outputs >= MAX_OUTPUTS {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.closed {
            return None;
        }
        s.outputs += 1;
        Some(OutputSlot(Arc::clone(self)))
    }

    /// Chunks below `written` are on their way to the output.
    pub fn advance(&self, written: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.written = s.written.max(written);
        self.changed.notify_all();
    }

    /// Grows or shrinks the window; chunks already admitted stay admitted.
    fn resize(&self, size: usize) {
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
    fn fits_the_fleet_within_the_memory_bound() {
        let w = Window::for_fleet(0, 1 << 20, 3);
        assert_eq!(w.size(), 8, "twice the capacity plus two");
        w.fit(0);
        assert_eq!(w.size(), MIN_WINDOW);
        w.fit(10_000);
        assert_eq!(w.size(), 512, "512 MiB of 1 MiB chunks");
        let huge = Window::for_fleet(0, 64 << 20, 10_000);
        assert_eq!(huge.size(), 8, "512 MiB of 64 MiB chunks");
    }

    #[test]
    fn outputs_ahead_are_bounded_until_one_is_done_with() {
        let w = Arc::new(Window::new(0, 1000));
        let held: Vec<OutputSlot> = (0..MAX_OUTPUTS)
            .map(|_| w.admit_output().unwrap())
            .collect();
        let w2 = Arc::clone(&w);
        let t = std::thread::spawn(move || w2.admit_output().is_some());
        std::thread::sleep(Duration::from_millis(50));
        assert!(!t.is_finished(), "more outputs than the bound");
        drop(held);
        assert!(t.join().unwrap());
        // Closing wakes a waiter with nothing.
        let held: Vec<OutputSlot> = (0..MAX_OUTPUTS)
            .map(|_| w.admit_output().unwrap())
            .collect();
        let w2 = Arc::clone(&w);
        let t = std::thread::spawn(move || w2.admit_output().is_none());
        std::thread::sleep(Duration::from_millis(20));
        w.close();
        assert!(t.join().unwrap());
        drop(held);
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
