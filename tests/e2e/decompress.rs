//! The reading side: multi-member files, trailing garbage, corruption, other tools'
//! output, list, and the same output rules as compression.

use crate::util::*;

fn gz_of(dir: &Dir, data: &[u8]) -> Vec<u8> {
    compress_file(dir, &dir.file("src", data), &["-b", "128K"])
}

#[test]
fn decompresses_to_the_name_without_suffix_and_keeps_the_input() {
    let dir = Dir::new("dec");
    let data = mixed(600_000, 1);
    let gz = dir.file("file.txt.gz", &gz_of(&dir, &data));
    let r = run(gzfleet().arg("decompress").arg(&gz));
    assert_ok!(r);
    assert_eq!(std::fs::read(dir.join("file.txt")).unwrap(), data);
    assert!(gz.exists());
    // Existing output is not overwritten without -f.
    let again = run(gzfleet().arg("decompress").arg(&gz));
    assert_fails!(again, 2, "file.txt already exists; use -f to overwrite");
    let forced = run(gzfleet().args(["decompress", "-f", "--rm"]).arg(&gz));
    assert_ok!(forced);
    assert!(!gz.exists(), "--rm keeps the input");
    assert_eq!(std::fs::read(dir.join("file.txt")).unwrap(), data);
}

#[test]
fn multi_member_files_decode_whole() {
    let dir = Dir::new("multi");
    let (a, b) = (text(100_000, 1), random(70_000, 2));
    let mut both = gz_of(&dir, &a);
    both.extend(tool("gzip", &["-c"], &dir.file("b", &b)));
    let gz = dir.file("both.gz", &both);
    let r = run(gzfleet().args(["decompress", "-c"]).arg(&gz));
    assert_ok!(r);
    assert_eq!(r.stdout, [a, b].concat());
    assert_ok!(run(gzfleet().arg("test").arg(&gz)));
}

#[test]
fn reads_what_gzip_and_pigz_write() {
    let dir = Dir::new("foreign");
    let data = mixed(1 << 20, 3);
    let src = dir.file("src", &data);
    for (tool_name, args) in [("gzip", &["-9", "-c"][..]), ("pigz", &["-1", "-c"][..])] {
        let gz = dir.file("foreign.gz", &tool(tool_name, args, &src));
        let r = run(gzfleet().args(["decompress", "-c"]).arg(&gz));
        assert_ok!(r);
        assert!(r.stdout == data, "{tool_name} output decoded wrongly");
    }
}

#[test]
fn trailing_garbage_is_reported_like_gzip() {
    let dir = Dir::new("garbage");
    let data = text(5000, 4);
    let mut bytes = gz_of(&dir, &data);
    bytes.extend_from_slice(b"this is not gzip");
    let gz = dir.file("g.gz", &bytes);
    let t = run(gzfleet().arg("test").arg(&gz));
    assert_fails!(
        t,
        2,
        "decompression OK, trailing garbage ignored (16 bytes)"
    );
    let d = run(gzfleet().args(["decompress", "-c"]).arg(&gz));
    assert_fails!(d, 2, "trailing garbage ignored");
    assert_eq!(d.stdout, data);
}

#[test]
fn corruption_is_caught_and_leaves_no_output() {
    let dir = Dir::new("corrupt");
    let data = text(200_000, 5);
    let good = gz_of(&dir, &data);
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 6] ^= 0x40;
    let gz = dir.file("crc.gz", &bad_crc);
    assert_fails!(run(gzfleet().arg("test").arg(&gz)), 1, "CRC-32 mismatch");
    assert_fails!(
        run(gzfleet().arg("decompress").arg(&gz)),
        1,
        "CRC-32 mismatch"
    );
    assert!(!dir.join("crc").exists(), "partial output left");
    let mut bad_len = good.clone();
    bad_len[n - 2] ^= 1;
    let gz = dir.file("len.gz", &bad_len);
    assert_fails!(run(gzfleet().arg("test").arg(&gz)), 1, "length mismatch");
    let mut bad_data = good;
    bad_data[n / 2] ^= 0xff;
    bad_data[n / 2 + 1] ^= 0xff;
    let gz = dir.file("data.gz", &bad_data);
    let r = run(gzfleet().arg("test").arg(&gz));
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
}

#[test]
fn stdin_to_stdout() {
    let dir = Dir::new("decstdin");
    let data = random(300_000, 6);
    let gz = gz_of(&dir, &data);
    let r = run_with(gzfleet().arg("decompress"), Some(&gz));
    assert_ok!(r);
    assert_eq!(r.stdout, data);
}

#[test]
fn list_shows_sizes_from_the_trailer() {
    let dir = Dir::new("list");
    let data = text(123_456, 7);
    let gz = dir.file("t.gz", &gz_of(&dir, &data));
    let r = run(gzfleet().arg("list").arg(&gz));
    assert_ok!(r);
    let out = String::from_utf8_lossy(&r.stdout);
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[0], std::fs::metadata(&gz).unwrap().len().to_string());
    assert_eq!(row[1], "123456");
    assert!(row[3].ends_with("/t") || row[3] == "t", "{row:?}");
    let not_gz = dir.file("plain", b"plain");
    assert_fails!(
        run(gzfleet().arg("list").arg(&not_gz)),
        1,
        "not in gzip format"
    );
}

#[test]
fn a_reader_that_goes_away_ends_us_quietly_as_it_ends_gzip() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let dir = Dir::new("epipe");
    let data = text(8 << 20, 8);
    let gz = dir.file("big.gz", &gz_of(&dir, &data));
    let input = dir.file("big", &data);
    // list writes a line per file: enough files to fill the pipe.
    let many: Vec<String> = std::iter::once("list".to_string())
        .chain(std::iter::repeat_n(gz.display().to_string(), 4000))
        .collect();
    for args in [
        vec!["decompress".into(), "-c".into(), gz.display().to_string()],
        vec!["compress".into(), "-c".into(), input.display().to_string()],
        many,
    ] {
        // `gzfleet ... | head -c 1`: one byte read, then the pipe is closed.
        let mut child = gzfleet()
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        stdout.read_exact(&mut [0u8; 1]).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{}: {:?}",
            args[0],
            out.status
        );
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{}", args[0]);
    }
}

#[test]
fn a_full_disk_names_the_output_not_the_input() {
    let dir = Dir::new("dec-full");
    let data = random(2 << 20, 9);
    let gz = dir.file("noise.gz", &gz_of(&dir, &data));
    let mount = dir.join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=256k none '{m}' && '{bin}' decompress -o '{m}/noise' '{gz}'; s=$?; ls -A '{m}' >&2; exit $s",
        m = mount.display(),
        bin = bin("gzfleet").display(),
        gz = gz.display()
    );
    let r = run(std::process::Command::new("unshare").args(["-m", "sh", "-c", &script]));
    assert_fails!(r, 1, "mnt/noise: No space left on device");
    assert!(
        !r.stderr.contains("noise.gz"),
        "blamed the input:\n{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "left behind:\n{}", r.stderr);
    let line = format!(
        "'{}' decompress -c '{}' > /dev/full",
        bin("gzfleet").display(),
        gz.display()
    );
    let full = run(std::process::Command::new("sh").args(["-c", &line]));
    assert_fails!(full, 1, "stdout: No space left on device");
    assert!(!full.stderr.contains("noise.gz"), "{}", full.stderr);
}
