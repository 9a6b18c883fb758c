//! Hooks for the end-to-end tests (tests/e2e/indexed.rs, oldformats.rs), and nothing
//! else: pack files, which no packaged program writes any more; and writing an
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

/// `data` in pack's format (gzip's `unpack.c` documents it; no pack program is
/// packaged any more), for the tests of what reads it: Huffman code lengths for the
/// bytes and the end-of-block code, which must be one of the longest; the counts of
/// leaves by length (the last less 2); the leaves by length; the codes, most
/// significant bit first, the leaves of each length taking its highest values. `data`
/// needs a byte, and code lengths under 25 bits (any text of a few megabytes).
pub fn pack(data: &[u8]) -> Vec<u8> {
    const EOB: usize = 256;
    let mut freq = [0u64; 257];
    data.iter().for_each(|&b| freq[usize::from(b)] += 1);
    let symbols: Vec<usize> = (0..=EOB).filter(|&s| s == EOB || freq[s] > 0).collect();
    let mut len = huffman_lengths(&symbols, &freq);
    let max = symbols.iter().map(|&s| len[s]).max().unwrap_or(1);
    // The end-of-block code must be among the longest: swapping lengths keeps the tree.
    if let Some(&deep) = symbols.iter().find(|&&s| len[s] == max && s != EOB) {
        len.swap(deep, EOB);
    }
    let at = |l: usize| -> Vec<usize> {
        let mut v: Vec<usize> = symbols.iter().copied().filter(|&s| len[s] == l).collect();
        v.sort_by_key(|&s| (s == EOB, s));
        v
    };
    let mut parents = vec![0u32; max + 1];
    let mut nodes = 0u32;
    for l in (1..=max).rev() {
        nodes >>= 1;
        parents[l] = nodes;
        nodes += at(l).len() as u32;
    }
    let mut code = [(0u32, 0usize); 257];
    let mut out = vec![0x1f, 0x1e];
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.push(max as u8);
    for (l, &parent) in parents.iter().enumerate().skip(1) {
        let n = at(l).len() - usize::from(l == max) * 2;
        out.push(n as u8);
        for (i, &s) in at(l).iter().enumerate() {
            code[s] = (parent + i as u32, l);
        }
    }
    (1..=max)
        .flat_map(at)
        .filter(|&s| s != EOB)
        .for_each(|s| out.push(s as u8));
    let (mut acc, mut bits) = (0u64, 0u32);
    for s in data.iter().map(|&b| usize::from(b)).chain([EOB]) {
        let (c, l) = code[s];
        acc = acc << l | u64::from(c);
        bits += l as u32;
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        out.push((acc << (8 - bits)) as u8);
    }
    out
}

/// Huffman code lengths of `symbols` (the others 0), by repeatedly joining the two
/// lightest trees.
fn huffman_lengths(symbols: &[usize], freq: &[u64; 257]) -> [usize; 257] {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut len = [0usize; 257];
    if symbols.len() == 1 {
        len[symbols[0]] = 1;
        return len;
    }
    let mut heap: BinaryHeap<Reverse<(u64, usize, Vec<usize>)>> = symbols
        .iter()
        .enumerate()
        .map(|(i, &s)| Reverse((freq[s], i, vec![s])))
        .collect();
    let mut order = symbols.len();
    while heap.len() > 1 {
        let Reverse((fa, _, a)) = heap.pop().expect("two trees");
        let Reverse((fb, _, b)) = heap.pop().expect("two trees");
        let joined: Vec<usize> = a.into_iter().chain(b).collect();
        joined.iter().for_each(|&s| len[s] += 1);
        heap.push(Reverse((fa + fb, order, joined)));
        order += 1;
    }
    len
}
