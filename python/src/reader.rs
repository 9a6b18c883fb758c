//! `_gzfleet.Reader`: every member of a gzip file, read with the GIL released; parallel
//! and seekable when the file comes by path with an index.

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyString};

use crate::backend::{Decoder, Fail, Index, Source};
use crate::errors::{Stash, to_py};
use crate::pyfile::PyReadFile;

#[pyclass(module = "gzfleet._gzfleet")]
pub struct Reader {
    decoder: Mutex<Decoder>,
    /// A Python file object's exception, raised as it was.
    stash: Option<Stash>,
}

/// Reads of at most this much at once: `readall` grows by it.
const STEP: usize = 1 << 20;

#[pymethods]
impl Reader {
    /// `source`: a path (str) or a binary file object; `index`: an index file's path
    /// (default: FILE.gzi beside a path, if there is one), or False for none.
    #[new]
    #[pyo3(signature = (source, *, index=None, threads=None))]
    fn new(
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        index: Option<&Bound<'_, PyAny>>,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let index = match index {
            None => Index::Beside,
            Some(i) if i.is_instance_of::<PyBool>() && !i.is_truthy()? => Index::No,
            Some(i) => Index::At(i.extract::<PathBuf>()?),
        };
        let (source, stash) = if source.is_instance_of::<PyString>() {
            (Source::Path(source.extract::<PathBuf>()?), None)
        } else {
            let f = PyReadFile::new(source.clone().unbind());
            let stash = f.stash.clone();
            (Source::Stream(Box::new(f)), Some(stash))
        };
        let decoder = crate::gil::released(py, || Decoder::open(source, index, threads))
            .map_err(|f| to_py(f, stash.as_ref()))?;
        Ok(Reader {
            decoder: Mutex::new(decoder),
            stash,
        })
    }

    /// Up to `n` bytes of data (all `n` from a file, unless at its end; from a stream,
    /// what has come); empty at the end.
    fn read<'py>(&self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyBytes>> {
        let mut got = 0;
        // Filled in place, with the GIL released: no copy when all `n` come.
        let full = PyBytes::new_with(py, n, |buf| {
            got = self.run(py, |d| d.fill(buf))?;
            Ok(())
        })?;
        if got == n {
            return Ok(full);
        }
        Ok(PyBytes::new(py, &full.as_bytes()[..got]))
    }

    /// Everything left.
    fn readall<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut out = Vec::new();
        self.run(py, |d| {
            loop {
                let len = out.len();
                out.resize(len + STEP, 0);
                let got = d.read(&mut out[len..])?;
                out.truncate(len + got);
                if got == 0 {
                    return Ok(());
                }
            }
        })?;
        Ok(PyBytes::new(py, &out))
    }

    /// Whether `seek` works (an index is in use).
    fn seekable(&self, py: Python<'_>) -> bool {
        crate::gil::released(py, || self.lock().seekable())
    }

    /// Whether an index is in use: reading is parallel and seeks go to its points.
    fn indexed(&self, py: Python<'_>) -> bool {
        crate::gil::released(py, || self.lock().indexed())
    }

    /// Moves to uncompressed offset `to`; returns the new position.
    fn seek(&self, py: Python<'_>, to: u64) -> PyResult<u64> {
        self.run(py, |d| d.seek(to))
    }

    /// The header time of the member being read (None before its header).
    #[getter]
    fn mtime(&self, py: Python<'_>) -> Option<u32> {
        crate::gil::released(py, || self.lock().mtime())
    }
}

impl Reader {
    fn lock(&self) -> std::sync::MutexGuard<'_, Decoder> {
        self.decoder.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Decoder) -> Result<T, Fail> + Send,
    ) -> PyResult<T> {
        // The lock is taken with the GIL released: a thread holding it may need the GIL
        // back (to read a Python file object).
        crate::gil::released(py, || f(&mut self.lock())).map_err(|e| to_py(e, self.stash.as_ref()))
    }
}
