//! A Python binary file object as a Rust `Read`: each read takes the GIL back for the
//! call to `readinto`/`read`, so the decoder can run with it released and still pull
//! from io.BytesIO, a socket's makefile or an fsspec file. An exception the object
//! raises is stashed and re-raised whole in the caller's thread.

use std::io::{self, Read};

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::Stash;

pub struct PyReadFile {
    obj: Py<PyAny>,
    pub stash: Stash,
}

impl PyReadFile {
    pub fn new(obj: Py<PyAny>) -> Self {
        PyReadFile {
            obj,
            stash: Stash::default(),
        }
    }
}

impl Read for PyReadFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if crate::gil::exiting() {
            return Err(io::Error::other("the interpreter is exiting"));
        }
        let read = Python::try_attach(|py| {
            let got = self
                .obj
                .call_method1(py, "read", (buf.len(),))
                .and_then(|b| {
                    if b.is_none(py) {
                        // A non-blocking stream with nothing yet: gzip has no way to
                        // resume either.
                        return Err(pyo3::exceptions::PyBlockingIOError::new_err(
                            "the file object is non-blocking and had no data",
                        ));
                    }
                    let b = b.cast_bound::<PyBytes>(py).map_err(PyErr::from)?.clone();
                    let data = b.as_bytes();
                    if data.len() > buf.len() {
                        return Err(pyo3::exceptions::PyValueError::new_err(
                            "the file object's read() returned more than asked",
                        ));
                    }
                    buf[..data.len()].copy_from_slice(data);
                    Ok(data.len())
                });
            got.map_err(|e| {
                let msg = e.to_string();
                self.stash.put(e);
                io::Error::other(msg)
            })
        });
        read.unwrap_or_else(|| Err(io::Error::other("the interpreter is exiting")))
    }
}
