//! Round trips judged by gzip, pigz and flate2: sizes at every window and block edge,
//! random and compressible data, every level, both modes, stdin to stdout.

use std::io::Write;
use std::process::Stdio;

use crate::util::*;

const BLOCK: usize = 128 << 10;

#[test]
fn sizes_at_every_edge_in_both_modes() {
    let dir = Dir::new("sizes");
    let sizes = [
        0,
        1,
        32767,
        32768,
        32769,
        BLOCK - 1,
        BLOCK,
        BLOCK + 1,
        7 * BLOCK + 12345,
    ];
    for n in sizes {
        for (kind, data) in [("random", random(n, n as u64)), ("text", text(n, n as u64))] {
            let input = dir.file(&format!("{kind}-{n}"), &data);
            for mode in [
                &["-b", "128K"][..],
                &["-b", "128K", "--engine", "zlib-rs"][..],
            ] {
                let gz = compress_file(&dir, &input, mode);
                let path = dir.file("check.gz", &gz);
                assert_decodes(&path, &data);
            }
        }
    }
}

#[test]
fn empty_input_is_a_complete_member() {
    let dir = Dir::new("empty");
    let input = dir.file("empty", b"");
    let gz = compress_file(&dir, &input, &["-n"]);
    // Header (10), the final empty block 03 00, CRC 0, ISIZE 0.
    let mut expected = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0];
    expected.extend_from_slice(&[0; 8]);
    assert_eq!(gz, expected);
}

#[test]
fn every_level_decodes_and_levels_matter() {
    let dir = Dir::new("levels");
    let data = mixed(3 * BLOCK + 777, 9);
    let input = dir.file("mixed", &data);
    let mut sizes = Vec::new();
    for level in 0..=9 {
        // Both spellings: --level N and -N.
        let long = compress_file(&dir, &input, &["-b", "128K", "--level", &level.to_string()]);
        let short = compress_file(&dir, &input, &["-b", "128K", &format!("-{level}")]);
        assert_eq!(long, short, "--level {level} and -{level} differ");
        assert_decodes(&dir.file("check.gz", &long), &data);
        sizes.push(long.len());
    }
    assert!(sizes[0] > data.len(), "level 0 must store: {sizes:?}");
    assert!(
        sizes[1] < sizes[0] && sizes[9] < sizes[1],
        "sizes by level: {sizes:?}"
    );
}

#[test]
fn dictionary_priming_pays_off_and_independent_mode_does_without() {
    let dir = Dir::new("modes");
    let data = text(20 * BLOCK, 3);
    let input = dir.file("text", &data);
    // zlib-rs, then the default engine (libdeflate, gzfleet's patched copy, primes too).
    let primed = compress_file(&dir, &input, &["-b", "128K", "--engine", "zlib-rs"]);
    let independent = compress_file(&dir, &input, &["-b", "128K", "-i", "--engine", "zlib-rs"]);
    assert!(
        primed.len() < independent.len(),
        "{} vs {}",
        primed.len(),
        independent.len()
    );
    assert_decodes(&dir.file("primed.gz", &primed), &data);
    assert_decodes(&dir.file("independent.gz", &independent), &data);
    let default = compress_file(&dir, &input, &["-b", "128K"]);
    let default_independent = compress_file(&dir, &input, &["-b", "128K", "-i"]);
    assert!(
        default.len() < default_independent.len(),
        "libdeflate: {} primed vs {} independent",
        default.len(),
        default_independent.len()
    );
    assert_decodes(&dir.file("default.gz", &default), &data);
    assert_decodes(&dir.file("default-i.gz", &default_independent), &data);
}

#[test]
fn stdin_to_stdout_matches_a_nameless_file_run() {
    let dir = Dir::new("stdin");
    let data = mixed(5 * BLOCK + 99, 4);
    let input = dir.file("data", &data);
    let piped = run_with(gzfleet().args(["compress", "-b", "128K"]), Some(&data));
    assert_ok!(piped);
    assert_decodes(&dir.file("piped.gz", &piped.stdout), &data);
    let from_file = compress_file(&dir, &input, &["-b", "128K", "-n"]);
    assert_eq!(
        piped.stdout, from_file,
        "stdin and -n file compression differ"
    );
    let dash = run_with(
        gzfleet().args(["compress", "-b", "128K", "-c", "-"]),
        Some(&data),
    );
    assert_eq!(dash.stdout, from_file);
}

#[test]
fn header_records_name_and_mtime_unless_told_not_to() {
    let dir = Dir::new("header");
    let input = dir.file("named.txt", b"hello, header");
    let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    set_mtime(&input, mtime);
    let gz = compress_file(&dir, &input, &[]);
    assert_eq!(gz[3], 0x08, "FNAME flag");
    assert_eq!(&gz[4..8], &1_600_000_000u32.to_le_bytes());
    assert_eq!(&gz[10..20], b"named.txt\0");
    let nameless = compress_file(&dir, &input, &["-n"]);
    assert_eq!((nameless[3], &nameless[4..8]), (0, &[0u8; 4][..]));
    // gzip reads the name back.
    let listed = tool("gzip", &["-lN"], &dir.file("x.gz", &gz));
    assert!(String::from_utf8_lossy(&listed).contains("named.txt"));
}

/// ISIZE is the length mod 2^32 and the CRC combines over 64-bit lengths: 4 GiB and
/// a bit of zeros through a pipe, checked by gzip and pigz (which check both).
#[test]
fn more_than_4_gib_through_stdin() {
    let dir = Dir::new("big");
    let out = dir.join("big.gz");
    let mut child = gzfleet()
        .args(["compress", "-1", "-b", "8M", "-o"])
        .arg(&out)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let total: u64 = (4u64 << 30) + 1_234_567;
    {
        let mut stdin = child.stdin.take().unwrap();
        let zeros = vec![0u8; 1 << 20];
        let mut left = total;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            stdin.write_all(&zeros[..n]).unwrap();
            left -= n as u64;
        }
    }
    let result = child.wait_with_output().unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let gz = std::fs::read(&out).unwrap();
    let isize = u32::from_le_bytes(gz[gz.len() - 4..].try_into().unwrap());
    assert_eq!(isize as u64, total % (1 << 32));
    tool("gzip", &["-t"], &out);
    tool("pigz", &["-t"], &out);
    let ours = run(gzfleet().arg("test").arg(&out));
    assert_ok!(ours);
}
