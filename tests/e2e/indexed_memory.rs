//! Indexed decompression at scale: memory grows with `-p`, never with the file, and
//! the default 16 MiB spans take libdeflate's fast path whatever the thread count (a
//! memory budget split among threads once sent every span of `-p 8` to the slow one).

use std::path::PathBuf;

use crate::util::*;

const MIB: usize = 1 << 20;

/// `len` bytes of mixed data and their .gz with gzfleet's own index (16 MiB spans).
fn indexed(dir: &Dir, name: &str, len: usize) -> (Vec<u8>, PathBuf) {
    let data = mixed(len, len as u64);
    let src = dir.file(name, &data);
    let gz = dir.join(&format!("{name}.gz"));
    assert_ok!(run(gzfleet()
        .args(["compress", "-q", "--index", "-o"])
        .arg(&gz)
        .arg(&src)));
    assert!(
        dir.join(&format!("{name}.gzi")).is_file(),
        "no index written"
    );
    (data, gz)
}

#[test]
fn the_default_spans_are_inflated_whole_at_any_thread_count() {
    let dir = Dir::new("idx-whole-p");
    let (data, gz) = indexed(&dir, "six", 6 * 16 * MIB);
    for p in ["1", "2", "16"] {
        let r = run(gzfleet().args(["decompress", "-c", "-v", "-p", p]).arg(&gz));
        assert_ok!(r);
        assert!(r.stdout == data, "-p {p}: output differs");
        assert!(
            r.stderr
                .contains("(6 spans of its index in parallel, 6 by libdeflate)"),
            "-p {p}: {}",
            r.stderr
        );
    }
}

#[test]
fn memory_grows_with_threads_not_with_the_file() {
    let dir = Dir::new("idx-memory");
    let peak = |gz: &PathBuf, p: &str| {
        let mut cmd = gzfleet();
        cmd.args(["decompress", "-c", "-p", p]).arg(gz);
        let (r, peak) = run_measured(&cmd, false);
        assert_ok!(r);
        peak / MIB as u64
    };
    // Three spans are all under way at once at -p 2; fifteen are never more than that.
    let (_, small) = indexed(&dir, "small", 3 * 16 * MIB);
    let (_, big) = indexed(&dir, "big", 15 * 16 * MIB);
    let (small_peak, big_peak) = (peak(&small, "2"), peak(&big, "2"));
    assert!(
        big_peak < small_peak + 24,
        "peak {big_peak} MiB for 240 MiB against {small_peak} MiB for 48 MiB"
    );
    // The documented bound at -p 2 (docs/DESIGN.md): 210 MiB of buffers, and the program.
    assert!(big_peak < 240, "peak {big_peak} MiB at -p 2");
}
