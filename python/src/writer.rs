//! `_gzfleet.Writer`: one gzip member written through the pool or a fleet. Each call
//! releases the GIL for the compression and returns the compressed bytes ready so far,
//! which GzipFile writes to its file object in the caller's thread: no thread of ours
//! ever needs the GIL, so interpreter exit cannot wait on one.

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::backend::{Encoder, Sink, WriteOptions};
use crate::errors::to_py;

#[pyclass(module = "gzfleet._gzfleet")]
pub struct Writer {
    /// None once finished, or after a failure (the member cannot be completed then).
    encoder: Mutex<Option<Encoder>>,
    sink: Sink,
}

#[pymethods]
impl Writer {
    #[new]
    #[pyo3(signature = (*, level=6, threads=None, workers=None, token_file=None,
                        block_size=None, name=None, mtime=0, index=None,
                        overwrite=true, engine=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        level: u32,
        threads: Option<usize>,
        workers: Option<Vec<String>>,
        token_file: Option<PathBuf>,
        block_size: Option<u64>,
        name: Option<Vec<u8>>,
        mtime: u32,
        index: Option<PathBuf>,
        overwrite: bool,
        engine: Option<String>,
    ) -> PyResult<Self> {
        let opts = WriteOptions {
            level,
            threads,
            workers: workers.unwrap_or_default(),
            token_file,
            block_size,
            name,
            mtime,
            index,
            overwrite,
            engine,
        };
        let sink = Sink::default();
        let s = sink.clone();
        let encoder =
            crate::gil::released(py, move || Encoder::new(&opts, s)).map_err(|f| to_py(f, None))?;
        Ok(Writer {
            encoder: Mutex::new(Some(encoder)),
            sink,
        })
    }

    /// Compresses `data`; returns the compressed bytes ready (possibly none).
    fn write<'py>(&self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        self.step(py, |e| e.write(data))
    }

    /// A sync point: everything written so far, compressed, ending on a byte boundary.
    fn flush<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.step(py, |e| e.flush())
    }

    /// Ends the member (and puts the index in place): returns (the last compressed
    /// bytes, the CRC-32 of the data).
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyBytes>, u32)> {
        let done = crate::gil::released(py, || self.lock().take().map(Encoder::finish))
            .ok_or_else(finished)?
            .map_err(|f| to_py(f, None))?;
        Ok((PyBytes::new(py, &self.sink.take()), done))
    }
}

impl Writer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Encoder>> {
        self.encoder.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the encoder with the GIL released; a failure ends the member.
    fn step<'py>(
        &self,
        py: Python<'py>,
        f: impl FnOnce(&mut Encoder) -> Result<(), crate::backend::Fail> + Send,
    ) -> PyResult<Bound<'py, PyBytes>> {
        // The lock is taken with the GIL released, as every wait must be.
        let done = crate::gil::released(py, || {
            let mut slot = self.lock();
            let encoder = slot.as_mut()?;
            let r = f(encoder);
            if r.is_err() {
                *slot = None;
            }
            Some(r)
        });
        done.ok_or_else(finished)?.map_err(|f| to_py(f, None))?;
        Ok(PyBytes::new(py, &self.sink.take()))
    }
}

fn finished() -> PyErr {
    PyValueError::new_err("the gzip member is already finished (or failed): open a new file")
}
