//! Releasing the GIL safely up to interpreter exit. CPython (3.9 to 3.13) ends a
//! thread that takes the GIL back once finalization has begun with pthread_exit, whose
//! forced unwind aborts the process when it meets Rust's panic guards ("FATAL:
//! exception not rethrown"). So every release goes through [`released`]: once the
//! package's atexit hook ([`shutdown`]) has run, a thread other than the exiting one
//! that finishes its work parks for good instead of taking the GIL back (exit does not
//! wait for it), and the hook waits, GIL released, for the threads already on their
//! way back.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread::{self, ThreadId};
use std::time::Duration;

use pyo3::prelude::*;

static EXITING: AtomicBool = AtomicBool::new(false);
static EXIT_THREAD: OnceLock<ThreadId> = OnceLock::new();
/// Threads between their check of EXITING and having the GIL back.
static RETURNING: AtomicUsize = AtomicUsize::new(0);

/// Whether the interpreter is on its way out (no thread of ours should attach).
pub fn exiting() -> bool {
    EXITING.load(SeqCst)
}

/// Runs `f` with the GIL released.
pub fn released<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> T {
    let r = py.detach(|| {
        let r = f();
        RETURNING.fetch_add(1, SeqCst);
        if EXITING.load(SeqCst) && EXIT_THREAD.get() != Some(&thread::current().id()) {
            RETURNING.fetch_sub(1, SeqCst);
            loop {
                thread::park();
            }
        }
        r
    });
    RETURNING.fetch_sub(1, SeqCst);
    r
}

/// The atexit hook (registered by gzfleet/__init__.py).
#[pyfunction]
#[pyo3(name = "_shutdown")]
pub fn shutdown(py: Python<'_>) {
    let _ = EXIT_THREAD.set(thread::current().id());
    EXITING.store(true, SeqCst);
    py.detach(|| {
        // Bounded: they only need the GIL, which is free now.
        for _ in 0..5000 {
            if RETURNING.load(SeqCst) == 0 {
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
    });
}
