//! Hooks for the end-to-end tests (tests/e2e/indexed.rs), and nothing else: writing an
//! index with gzfleet's own writer, so other tools can be shown to read what it
//! writes. Not an API: hidden from the docs, free to change with the tests.

use std::fs::File;
use std::path::Path;

use crate::index::{Index, IndexWriter, Point};

/// Reads the index at `from` (gztool's, say) and writes its points again with
/// gzfleet's writer to `to`; with `drop_windows`, every window left out (an index
/// that lies). Returns the number of points.
pub fn rewrite_index(from: &Path, to: &Path, drop_windows: bool) -> Result<u64, String> {
    let index = Index::open(from).map_err(|e| e.to_string())?;
    let out = File::create(to).map_err(|e| e.to_string())?;
    let mut w = IndexWriter::new(out).map_err(|e| e.to_string())?;
    for (i, p) in index.points().iter().enumerate() {
        let window = match drop_windows {
            true => Vec::new(),
            false => index.window(i).map_err(|e| e.to_string())?,
        };
        let point = Point {
            compressed: p.compressed,
            bits: p.bits,
            uncompressed: p.uncompressed,
            window,
        };
        w.push(&point).map_err(|e| e.to_string())?;
    }
    let n = w.points();
    w.finish(index.uncompressed_size())
        .map_err(|e| e.to_string())?;
    Ok(n)
}
