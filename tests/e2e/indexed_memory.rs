//! Indexed decompression at scale: memory grows with `-p`, never with the file, and
//! the default spans (4 MiB, or 16 MiB with windows) take libdeflate's fast path
//! whatever the thread count (a memory budget split among threads once sent every
//! 16 MiB span of `-p 8` to the slow one).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

const MIB: usize = 1 << 20;

/// `len` bytes of mixed data and their .gz with gzfleet's own index, compressed with
/// `args` besides.
fn indexed(dir: &Dir, name: &str, len: usize, args: &[&str]) -> (Vec<u8>, PathBuf) {
    let data = mixed(len, len as u64);
    let src = dir.file(name, &data);
    let gz = dir.join(&format!("{name}.gz"));
    assert_ok!(run(gzfleet()
        .args(["compress", "-q", "--index"])
        .args(args)
        .arg("-o")
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
    // Independent chunks (-i) get a point every 4 MiB; primed ones (the default engine
    // libdeflate, and zlib-rs) every 16 MiB, each with its window.
    let cases = [
        ("independent", 6 * 4 * MIB, &["-i"][..]),
        ("primed", 6 * 16 * MIB, &["--engine", "zlib-rs"][..]),
        ("primed-default", 6 * 16 * MIB, &[][..]),
    ];
    for (name, len, args) in cases {
        let (data, gz) = indexed(&dir, name, len, args);
        for p in ["1", "2", "16"] {
            let r = run(gzfleet().args(["decompress", "-c", "-v", "-p", p]).arg(&gz));
            assert_ok!(r);
            assert!(r.stdout == data, "{name}, -p {p}: output differs");
            assert!(
                r.stderr
                    .contains("(6 spans of its index in parallel, 6 by libdeflate)"),
                "{name}, -p {p}: {}",
                r.stderr
            );
        }
    }
}

/// Peak memory (MiB) of `decompress -c -p P gz` behind a reader that waits 3 s before
/// it reads, so that every span under way fills what it may hold meanwhile (to
/// /dev/null the writer keeps up and nothing piles up). The reader then compares the
/// output with `want`: a run that stopped early would fail here, not pass as small.
fn peak_behind_slow_reader(gz: &Path, p: &str, want: &Path) -> u64 {
    let report = tempfile::NamedTempFile::new().expect("a file for time's report");
    let script = format!(
        "'{}' decompress -c -p {p} '{}' | (sleep 3; cmp - '{}')",
        bin("gzfleet").display(),
        gz.display(),
        want.display()
    );
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(report.path())
        .args(["sh", "-c", &script])
        .output()
        .expect("/usr/bin/time (Debian's time) must be installed");
    assert!(out.status.success(), "{script}: {out:?}");
    let text = std::fs::read_to_string(report.path()).expect("time's report");
    let kib: u64 = text.trim().parse().expect("time's figure");
    kib / 1024
}

#[test]
fn memory_grows_with_threads_not_with_the_file() {
    let dir = Dir::new("idx-memory");
    // Three spans are all under way at once at -p 2; fifteen are never more than that.
    let span = ["--index-span", "16M"];
    let (_, small) = indexed(&dir, "small", 3 * 16 * MIB, &span);
    let (_, big) = indexed(&dir, "big", 15 * 16 * MIB, &span);
    let small_peak = peak_behind_slow_reader(&small, "2", &dir.join("small"));
    let big_peak = peak_behind_slow_reader(&big, "2", &dir.join("big"));
    assert!(
        big_peak < small_peak + 24,
        "peak {big_peak} MiB for 240 MiB against {small_peak} MiB for 48 MiB"
    );
    // The bound at -p 2 (index/parallel.rs): 210 MiB of buffers, and the program.
    assert!(big_peak < 240, "peak {big_peak} MiB at -p 2");
}
