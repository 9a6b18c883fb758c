//! Hooks for the end-to-end tests (tests/e2e/indexed.rs), and nothing else: writing an
//! index with gzfleet's own writer, so other tools can be shown to read what it
//! writes, and so a point can be moved to show it is caught. Not an API: hidden from
//! the docs, free to change with the tests.

use std::fs::File;
use std::path::Path;

use crate::index::{Index, IndexWriter, Point};

/// Reads the index at `from` (gztool's, say) and writes its points again with
/// gzfleet's writer to `to`; with `drop_windows`, every window left out (an index
/// that lies). Returns the number of points.
pub fn rewrite_index(from: &Path, to: &Path, drop_windows: bool) -> Result<u64, String> {
    rewrite(from, to, drop_windows, |_, _| {})
}

/// As [`rewrite_index`], with point `which` moved by `compressed` bytes in the .gz and
/// `uncompressed` bytes in the data (its window kept).
pub fn move_point(
    from: &Path,
    to: &Path,
    which: usize,
    compressed: i64,
    uncompressed: i64,
) -> Result<u64, String> {
    rewrite(from, to, false, |i, p| {
        if i == which {
            p.compressed = p.compressed.saturating_add_signed(compressed);
            p.uncompressed = p.uncompressed.saturating_add_signed(uncompressed);
        }
    })
}

fn rewrite(
    from: &Path,
    to: &Path,
    drop_windows: bool,
    mut change: impl FnMut(usize, &mut Point),
) -> Result<u64, String> {
    let index = Index::open(from).map_err(|e| e.to_string())?;
    let out = File::create(to).map_err(|e| e.to_string())?;
    let mut w = IndexWriter::new(out).map_err(|e| e.to_string())?;
    for (i, p) in index.points().iter().enumerate() {
        let window = match drop_windows {
            true => Vec::new(),
            false => index.window(i).map_err(|e| e.to_string())?,
        };
        let mut point = Point {
            compressed: p.compressed,
            bits: p.bits,
            uncompressed: p.uncompressed,
            window,
        };
        change(i, &mut point);
        w.push(&point).map_err(|e| e.to_string())?;
    }
    let n = w.points();
    w.finish(index.uncompressed_size())
        .map_err(|e| e.to_string())?;
    Ok(n)
}
