//! `gzfleet._gzfleet`: the native half of the `gzfleet` Python package (python/gzfleet
//! holds the stdlib-shaped half). `Writer` and `Reader` in their modules, the one-shot
//! functions here; `backend` is the one place that calls the coordinator library, and
//! `errors` the one place that picks Python exceptions.

mod backend;
mod errors;
mod gil;
mod pyfile;
mod reader;
mod writer;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use errors::to_py;

/// `data` as one gzip member, compressed by the pool with the GIL released.
#[pyfunction]
#[pyo3(signature = (data, level=6, mtime=0, threads=None, engine=None))]
fn compress<'py>(
    py: Python<'py>,
    data: &[u8],
    level: u32,
    mtime: u32,
    threads: Option<usize>,
    engine: Option<String>,
) -> PyResult<Bound<'py, PyBytes>> {
    let opts = backend::WriteOptions {
        level,
        threads,
        mtime,
        engine,
        ..backend::WriteOptions::default()
    };
    let out =
        crate::gil::released(py, || backend::compress(data, &opts)).map_err(|f| to_py(f, None))?;
    Ok(PyBytes::new(py, &out))
}

/// Every member of `data`, decompressed, with the GIL released.
#[pyfunction]
fn decompress<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let data = data.to_vec();
    let out =
        crate::gil::released(py, move || backend::decompress(data)).map_err(|f| to_py(f, None))?;
    Ok(PyBytes::new(py, &out))
}

/// The deflate engines this build has (`engine=` takes one).
#[pyfunction]
fn engines() -> Vec<&'static str> {
    backend::engines()
}

#[pymodule]
fn _gzfleet(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("BadGzipFile", m.py().get_type::<errors::BadGzipFile>())?;
    m.add_class::<writer::Writer>()?;
    m.add_class::<reader::Reader>()?;
    m.add_function(wrap_pyfunction!(compress, m)?)?;
    m.add_function(wrap_pyfunction!(decompress, m)?)?;
    m.add_function(wrap_pyfunction!(gil::shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(engines, m)?)?;
    Ok(())
}
