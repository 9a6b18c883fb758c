//! One mapping from what the backend reports to the exception the stdlib's gzip module
//! raises for the same thing: gzip.BadGzipFile (an OSError) for data that is not gzip
//! or is damaged, EOFError for data cut short, ValueError for settings that cannot
//! work, OSError (with its errno) for I/O, and a file object's own exception as it was.

use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyEOFError, PyOSError, PyValueError};
use pyo3::prelude::*;

use crate::backend::Fail;

// The stdlib's own class: `except gzip.BadGzipFile` catches gzfleet's too.
pyo3::import_exception!(gzip, BadGzipFile);
pyo3::import_exception!(io, UnsupportedOperation);

/// Where an adapter keeps the exception a Python file object raised, so the caller gets
/// it back unchanged rather than as a wrapped io::Error.
#[derive(Clone, Default)]
pub struct Stash(Arc<Mutex<Option<PyErr>>>);

impl Stash {
    pub fn put(&self, e: PyErr) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    }

    fn take(&self) -> Option<PyErr> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// The Python exception for `fail`; a stashed file-object exception wins, since it is
/// the cause.
pub fn to_py(fail: Fail, stash: Option<&Stash>) -> PyErr {
    if let Some(e) = stash.and_then(Stash::take) {
        return e;
    }
    match fail {
        Fail::Corrupt(m) => BadGzipFile::new_err(m),
        Fail::Truncated(m) => PyEOFError::new_err(m),
        Fail::Settings(m) => PyValueError::new_err(m),
        Fail::Io(e) => PyErr::from(e),
        Fail::Unsupported(m) => UnsupportedOperation::new_err(m),
        Fail::Other(m) => PyOSError::new_err(m),
    }
}
