//! Decompression with an index (gztool's .gzi): in parallel, at an offset, and safe
//! when the index is damaged, stale or of another file. Real gztool makes indexes of
//! gzip-, pigz- and gzfleet-made files; gztool and rapidgzip read the one gzfleet's
//! own writer writes.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

const MIB: usize = 1 << 20;

/// `gztool -i` with 1 MiB spans, v0 format: `gz`'s index beside it (FILE.gzi).
fn gztool_index(gz: &Path) -> PathBuf {
    let out = Command::new("gztool")
        .args(["-z", "-f", "-s", "1", "-i"])
        .arg(gz)
        .output()
        .expect("gztool must be installed");
    assert!(out.status.success(), "gztool -i: {out:?}");
    let index = PathBuf::from(format!("{}i", gz.display()));
    assert!(index.is_file(), "gztool wrote no {}", index.display());
    index
}

/// Decompresses `gz` to stdout with `args`, -v.
fn decompress(gz: &Path, args: &[&str]) -> Run {
    run(gzfleet()
        .args(["decompress", "-c", "-v"])
        .args(args)
        .arg(gz))
}

/// The index was used whole: no warning, and -v says so.
fn assert_indexed(r: &Run, data: &[u8]) {
    assert_ok!(r);
    assert!(
        r.stdout == data,
        "output differs from the input:\n{}",
        r.stderr
    );
    assert!(!r.stderr.contains("index not used"), "{}", r.stderr);
    assert!(
        r.stderr.contains("spans of its index in parallel"),
        "{}",
        r.stderr
    );
}

fn made_by(dir: &Dir, name: &str, data: &[u8], maker: &str) -> PathBuf {
    let src = dir.file(name, data);
    let gz = dir.join(&format!("{name}.gz"));
    let bytes = match maker {
        "gzip" => tool("gzip", &["-c"], &src),
        "pigz" => tool("pigz", &["-c"], &src),
        // zlib-rs primes chunks with the window before them; libdeflate (the default)
        // makes independent ones.
        "gzfleet" => compress_file(dir, &src, &["-b", "128K", "--engine", "zlib-rs"]),
        "gzfleet-i" => compress_file(dir, &src, &["-b", "128K"]),
        other => panic!("no maker {other}"),
    };
    std::fs::write(&gz, bytes).unwrap();
    gz
}

#[test]
fn gztool_indexes_of_gzip_pigz_and_gzfleet_files_decompress_in_parallel() {
    let dir = Dir::new("idx-makers");
    let data = mixed(5 * MIB + 12_345, 11);
    for maker in ["gzip", "pigz", "gzfleet", "gzfleet-i"] {
        let gz = made_by(&dir, maker, &data, maker);
        gztool_index(&gz);
        let outputs: Vec<Vec<u8>> = ["1", "2", "8"]
            .iter()
            .map(|p| {
                let r = decompress(&gz, &["-p", p]);
                assert_indexed(&r, &data);
                r.stdout
            })
            .collect();
        assert!(outputs.windows(2).all(|w| w[0] == w[1]), "{maker}");
        let t = run(gzfleet().args(["test", "-v", "-p", "2"]).arg(&gz));
        assert_ok!(t);
        assert!(
            t.stderr.contains("spans of its index in parallel"),
            "{}",
            t.stderr
        );
        // gzip's form too.
        let gzip_form = run(gzfleet().args(["-d", "-c", "-v", "-p", "2"]).arg(&gz));
        assert_indexed(&gzip_form, &data);
    }
}

#[test]
fn zero_one_and_many_chunks_in_both_modes() {
    let dir = Dir::new("idx-sizes");
    for (n, len) in [0, 100_000, 4 * MIB + 7].into_iter().enumerate() {
        let data = text(len, n as u64);
        for maker in ["gzfleet", "gzfleet-i"] {
            let gz = made_by(&dir, &format!("{maker}-{len}"), &data, maker);
            gztool_index(&gz);
            for p in ["1", "2", "8"] {
                assert_indexed(&decompress(&gz, &["-p", p]), &data);
            }
            // To a file beside it, through the partial file, as without an index.
            let r = run(gzfleet().args(["decompress", "-f", "-p", "2"]).arg(&gz));
            assert_ok!(r);
            let out = gz.with_extension("");
            assert!(std::fs::read(&out).unwrap() == data, "{}", out.display());
        }
    }
}

/// gzfleet's writer's index of a gzfleet-made multi-chunk file, read by gztool (-b at
/// the first, a middle and the last span) and by rapidgzip (--import-index).
#[test]
fn gztool_and_rapidgzip_read_the_index_gzfleet_writes() {
    let dir = Dir::new("idx-others");
    let data = mixed(5 * MIB + 999, 3);
    let gz = made_by(&dir, "data", &data, "gzfleet");
    let theirs = gztool_index(&gz);
    let ours = dir.join("ours.gzi");
    let points = gzfleet_coordinator::testing::rewrite_index(&theirs, &ours, false).unwrap();
    assert!(points >= 5, "{points} points");
    std::fs::remove_file(&theirs).unwrap();
    for offset in [0, 1, MIB + 5, 3 * MIB, data.len() - 10, data.len() - 1] {
        let out = Command::new("gztool")
            .args(["-I"])
            .arg(&ours)
            .args(["-b", &offset.to_string()])
            .arg(&gz)
            .output()
            .unwrap();
        assert!(out.status.success(), "gztool -b {offset}: {out:?}");
        assert!(
            out.stdout == data[offset..],
            "gztool -b {offset} gives other bytes"
        );
    }
    let out = Command::new("rapidgzip")
        .args(["-P", "2", "--import-index"])
        .arg(&ours)
        .args(["-d", "-c"])
        .arg(&gz)
        .output()
        .expect("rapidgzip must be installed (pip install rapidgzip)");
    assert!(out.status.success(), "rapidgzip: {out:?}");
    assert!(
        out.stdout == data,
        "rapidgzip --import-index gives other bytes"
    );
    let ours = ours.to_str().unwrap();
    assert_indexed(&decompress(&gz, &["-p", "2", "--index-file", ours]), &data);
}

/// Each way an index can be wrong: the output is still the input, and one line says
/// why the index was not used (exit status 0: the output is right).
#[test]
fn a_damaged_stale_or_foreign_index_falls_back_with_one_warning() {
    let dir = Dir::new("idx-damaged");
    let data = mixed(5 * MIB, 5);
    let gz = made_by(&dir, "data", &data, "gzfleet");
    let good = std::fs::read(gztool_index(&gz)).unwrap();
    let other = made_by(&dir, "other", &mixed(5 * MIB, 6), "gzfleet");
    let foreign = std::fs::read(gztool_index(&other)).unwrap();
    let lying = dir.join("lying.gzi");
    gzfleet_coordinator::testing::rewrite_index(&gz.with_extension("gzi"), &lying, true).unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    for at in [12, 20, 40, 60, good.len() / 2, good.len() - 3] {
        let mut b = good.clone();
        b[at] ^= 0x41;
        cases.push(("a flipped byte", b));
    }
    cases.push(("truncated", good[..good.len() - 9].to_vec()));
    cases.push(("truncated to its header", good[..32].to_vec()));
    cases.push(("another file's", foreign));
    cases.push(("windows left out", std::fs::read(&lying).unwrap()));
    let index = gz.with_extension("gzi");
    for (what, bytes) in cases {
        std::fs::write(&index, &bytes).unwrap();
        for p in ["1", "2"] {
            let r = decompress(&gz, &["-p", p]);
            assert_ok!(r);
            assert!(r.stdout == data, "{what}: wrong output");
            let warnings: Vec<&str> = r.stderr.lines().filter(|l| l.contains("index")).collect();
            // A flipped byte in a spot nothing reads (a v1 field, a window's padding)
            // may leave a usable index; else exactly one line names it.
            if !r.stderr.contains("spans of its index in parallel") {
                assert_eq!(warnings.len(), 1, "{what}: {}", r.stderr);
                assert!(
                    warnings[0].contains("index not used"),
                    "{what}: {}",
                    r.stderr
                );
            }
        }
        let t = run(gzfleet().args(["test", "-p", "2"]).arg(&gz));
        assert_ok!(t);
    }
    // A stale index: the .gz made again, differently, from the same data.
    std::fs::write(&index, &good).unwrap();
    std::fs::write(
        &gz,
        compress_file(&dir, &dir.join("data"), &["-b", "256K", "-1"]),
    )
    .unwrap();
    let r = decompress(&gz, &["-p", "2"]);
    assert_ok!(r);
    assert!(r.stdout == data, "stale: wrong output");
    assert_eq!(
        r.stderr.matches("index not used").count(),
        1,
        "{}",
        r.stderr
    );
}

#[test]
fn offset_and_length_read_a_range() {
    let dir = Dir::new("idx-range");
    let data = mixed(5 * MIB + 77, 8);
    let gz = made_by(&dir, "data", &data, "gzfleet");
    gztool_index(&gz);
    let n = data.len();
    for (offset, length) in [
        (0, 10),
        (MIB - 1, 2),
        (MIB, 300_000),
        (2 * MIB + 3, 3 * MIB),
        (n - 1, 5),
        (n, 5),
        (n + 100, 5),
        (4 * MIB, 0),
    ] {
        let args = [
            "--offset".to_string(),
            offset.to_string(),
            "--length".into(),
            length.to_string(),
        ];
        let r = run(gzfleet().args(["decompress", "-c"]).args(&args).arg(&gz));
        assert_ok!(r);
        assert!(r.stderr.is_empty(), "{}", r.stderr);
        let want = &data[offset.min(n)..(offset + length).min(n)];
        assert!(r.stdout == want, "--offset {offset} --length {length}");
    }
    // --offset alone: to the end; to a file with -o.
    let out = dir.join("tail");
    let r = run(gzfleet()
        .args(["decompress", "--offset", "3000000", "-o"])
        .arg(&out)
        .arg(&gz));
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == data[3_000_000..]);
    // Without an index: the same bytes, inflated from the start, with a warning.
    std::fs::remove_file(gz.with_extension("gzi")).unwrap();
    let r = run(gzfleet()
        .args(["decompress", "-c", "--offset", "3000000", "--length", "99"])
        .arg(&gz));
    assert_ok!(r);
    assert!(r.stdout == data[3_000_000..3_000_099]);
    assert!(r.stderr.contains("no index"), "{}", r.stderr);
}

/// Past 4 GiB: the index's 64-bit offsets, ISIZE mod 2^32. Zeros at level 1 keep it
/// quick; the check is `test` (CRC and length) and ranges beyond 4 GiB.
#[test]
fn files_over_4_gib() {
    let dir = Dir::new("idx-4g");
    let src = dir.join("zeros");
    let len: u64 = (4 << 30) + 12_345_678;
    std::fs::File::create(&src).unwrap().set_len(len).unwrap();
    let r = run(gzfleet().args(["compress", "-1", "-b", "64M"]).arg(&src));
    assert_ok!(r);
    std::fs::remove_file(&src).unwrap();
    let gz = dir.join("zeros.gz");
    let out = Command::new("gztool")
        .args(["-z", "-f", "-s", "256", "-i"])
        .arg(&gz)
        .output()
        .unwrap();
    assert!(out.status.success(), "gztool: {out:?}");
    for p in ["1", "2"] {
        let t = run(gzfleet().args(["test", "-v", "-p", p]).arg(&gz));
        assert_ok!(t);
        assert!(
            t.stderr.contains("spans of its index in parallel"),
            "{}",
            t.stderr
        );
    }
    let r = run(gzfleet()
        .args([
            "decompress",
            "-c",
            "--offset",
            &(len - 1000).to_string(),
            "--length",
            "5000",
        ])
        .arg(&gz));
    assert_ok!(r);
    assert_eq!(r.stdout, vec![0u8; 1000]);
}

/// gztool indexes files of several members too; gzfleet's parallel path covers one
/// member, so it says so and decodes every member on one thread: never wrong output.
#[test]
fn a_multi_member_file_with_gztools_index_decodes_whole() {
    let dir = Dir::new("idx-members");
    let (a, b) = (mixed(3 * MIB, 21), text(2 * MIB + 5, 22));
    let mut both = tool("gzip", &["-c"], &dir.file("a", &a));
    both.extend(tool("pigz", &["-c"], &dir.file("b", &b)));
    let gz = dir.file("both.gz", &both);
    gztool_index(&gz);
    let data = [a, b].concat();
    for p in ["1", "2"] {
        let r = decompress(&gz, &["-p", p]);
        assert_ok!(r);
        assert!(r.stdout == data, "wrong output");
        assert_eq!(
            r.stderr.matches("index not used").count(),
            1,
            "{}",
            r.stderr
        );
    }
    let r = run(gzfleet()
        .args(["decompress", "-c", "--offset", "3145700", "--length", "200"])
        .arg(&gz));
    assert_ok!(r);
    assert!(r.stdout == data[3_145_700..3_145_900]);
}

/// Spans shorter than the 32 KiB window: the span after the first is checked against
/// history that reaches back before the first, which the first point's window supplies.
#[test]
fn a_range_after_spans_shorter_than_the_window_reads_right() {
    let dir = Dir::new("idx-short-spans");
    let data = text(600_000, 2);
    let src = dir.file("d", &data);
    let gz = dir.join("d.gz");
    std::fs::write(&gz, tool("gzip", &["-c"], &src)).unwrap();
    assert_ok!(run(gzfleet()
        .args(["index", "--index-span", "8K"])
        .arg(&gz)));
    for (offset, length) in [(100_000usize, 50_000usize), (9_000, 70_000)] {
        let r = run(gzfleet()
            .args(["decompress", "-c", "--offset", &offset.to_string()])
            .args(["--length", &length.to_string()])
            .arg(&gz));
        assert_ok!(r);
        assert!(
            r.stdout == data[offset..offset + length],
            "bytes at {offset}"
        );
        assert!(r.stderr.is_empty(), "{}", r.stderr);
    }
}

/// gzfleet's own index (byte-aligned points) of its own files: every span inflated
/// whole by libdeflate, with windows (both engines prime chunks) and without (`-i`). A point moved by a byte
/// either way, or a span's length by one, is refused: one warning, the right bytes.
#[test]
fn gzfleets_own_index_inflates_spans_whole_and_a_moved_point_is_caught() {
    let dir = Dir::new("idx-whole");
    let data = mixed(6 * MIB + 4321, 17);
    let input = dir.file("data", &data);
    for (engine, mode) in [("libdeflate", ""), ("zlib-rs", ""), ("libdeflate", "-i")] {
        let gz = dir.join(&format!("{engine}{mode}.gz"));
        let independent: &[&str] = if mode.is_empty() { &[] } else { &[mode] };
        assert_ok!(run(gzfleet()
            .args(["compress", "-b", "128K", "--index", "--index-span", "512K"])
            .args(independent)
            .args(["--engine", engine, "-o"])
            .arg(&gz)
            .arg(&input)));
        let index = gz.with_extension("gzi");
        let good = dir.join(&format!("{engine}{mode}.good.gzi"));
        std::fs::copy(&index, &good).unwrap();
        for p in ["1", "2"] {
            let r = decompress(&gz, &["-p", p]);
            assert_indexed(&r, &data);
            let (spans, whole) = span_counts(&r.stderr);
            assert!(spans > 10 && whole == spans, "{engine}: {}", r.stderr);
        }
        for (compressed, uncompressed) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
            let moved = gzfleet_coordinator::testing::move_point;
            moved(&good, &index, 5, compressed, uncompressed).unwrap();
            let r = decompress(&gz, &["-p", "2"]);
            assert_ok!(r);
            let what = format!("{engine}, point moved by {compressed}, {uncompressed}");
            assert!(r.stdout == data, "{what}: wrong output");
            assert_eq!(
                r.stderr.matches("index not used").count(),
                1,
                "{what}: {}",
                r.stderr
            );
        }
    }
}

/// "(N spans of its index in parallel, M by libdeflate)" in -v's line.
fn span_counts(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.contains("spans of its index in parallel"))
        .unwrap_or_else(|| panic!("no span count: {stderr}"));
    let numbers: Vec<u64> = line
        .rsplit('(')
        .next()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}
