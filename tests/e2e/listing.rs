//! `list` and `test` beside the system's gzip (1.12, which decodes for -l): the same
//! exit status, the same stdout byte for byte where gzip's is right (dates under
//! TZ=UTC), the same decompressed bytes, the same words for trailing garbage. Where
//! gzfleet differs on purpose (every member counted, a row for a padded file), the
//! test says so and checks gzfleet against the truth instead.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use crate::util::*;

fn ours(args: &[&str], files: &[&Path]) -> Run {
    run(gzfleet().env("TZ", "UTC").args(args).args(files))
}

fn gzip(args: &[&str], files: &[&Path]) -> Run {
    run(Command::new("gzip").env("TZ", "UTC").args(args).args(files))
}

/// Both with `file` as stdin (a regular file, not a pipe: its date is shown).
fn with_stdin(mut cmd: Command, file: &Path) -> Run {
    let out = cmd
        .env("TZ", "UTC")
        .stdin(Stdio::from(File::open(file).unwrap()))
        .output()
        .unwrap();
    Run {
        status: out.status,
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn same(what: &str, ours: &Run, gzip: &Run) {
    assert_eq!(
        ours.status.code(),
        gzip.status.code(),
        "{what}: exit status; ours said\n{}gzip said\n{}",
        ours.stderr,
        gzip.stderr
    );
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&gzip.stdout),
        "{what}: stdout"
    );
}

/// Single-member files of every kind: tiny (negative ratio), text, stored name and
/// none, gzip's own output, empty data; each alone, then all with the totals line.
fn single_member_files(dir: &Dir) -> Vec<PathBuf> {
    let when = UNIX_EPOCH + Duration::from_secs(1_678_000_089);
    let mut files = Vec::new();
    for (name, data, args) in [
        ("tiny", b"hello world\n".to_vec(), &["-p", "1"][..]),
        ("text", text(600_000, 3), &["-b", "128K"][..]),
        ("noname", text(50_000, 4), &["-n"][..]),
        ("empty", Vec::new(), &[][..]),
    ] {
        let input = dir.file(name, &data);
        set_mtime(&input, when);
        let gz = dir.file(&format!("{name}.gz"), &compress_file(dir, &input, args));
        set_mtime(
            &gz,
            when + Duration::from_secs(86_400 * 40 + 3_600 * 7 + 60 * 5),
        );
        files.push(gz);
    }
    let by_gzip = dir.file("mixed.txt", &mixed(200_000, 5));
    files.push(dir.file("by-gzip.gz", &tool("gzip", &["-9", "-c"], &by_gzip)));
    files
}

#[test]
fn list_and_list_v_print_what_gzip_prints() {
    let dir = Dir::new("listing");
    let files = single_member_files(&dir);
    for args in [&["-l"][..], &["-lv"]] {
        let mine: &[&str] = match args[0] {
            "-lv" => &["list", "-v"],
            _ => &["list"],
        };
        for f in &files {
            same(
                &format!("{args:?} {}", f.display()),
                &ours(mine, &[f]),
                &gzip(args, &[f]),
            );
        }
        let all: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        let (o, g) = (ours(mine, &all), gzip(args, &all));
        same(&format!("{args:?} all"), &o, &g);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("(totals)"),
            "no totals line"
        );
    }
}

#[test]
fn list_reads_stdin_as_gzip_does() {
    let dir = Dir::new("list-stdin");
    let files = single_member_files(&dir);
    let gz = &files[1];
    for (mine, theirs) in [
        (&["list", "-v"][..], &["-lv"][..]),
        (&["list", "-"], &["-l", "-"]),
    ] {
        // Redirected from a file: its date.
        let o = with_stdin(with_args(gzfleet(), mine), gz);
        let g = with_stdin(with_args(Command::new("gzip"), theirs), gz);
        same(&format!("{mine:?} < file"), &o, &g);
        assert!(String::from_utf8_lossy(&o.stdout).contains(" stdout\n"));
        // Through a pipe: gzip shows the epoch for a pipe's date.
        let bytes = std::fs::read(gz).unwrap();
        let o = run_with(gzfleet().env("TZ", "UTC").args(mine), Some(&bytes));
        let g = run_with(
            Command::new("gzip").env("TZ", "UTC").args(theirs),
            Some(&bytes),
        );
        same(&format!("{mine:?} < pipe"), &o, &g);
    }
}

fn with_args(mut cmd: Command, args: &[&str]) -> Command {
    cmd.args(args);
    cmd
}

/// gzip 1.12 -l shows a multi-member file's last member only (its size and CRC); we
/// count every member, as `gzip -dc | wc -c` does. The other columns agree.
#[test]
fn multi_member_files_count_every_member() {
    let dir = Dir::new("list-multi");
    let (a, b) = (text(300_000, 6), mixed(100_000, 7));
    let a_gz = compress_file(&dir, &dir.file("a", &a), &["-b", "128K"]);
    let b_gz = tool("gzip", &["-c"], &dir.file("b", &b));
    let both = dir.file("ab.gz", &[a_gz, b_gz].concat());
    let whole = tool("gzip", &["-dc"], &both);
    assert!(whole == [a.clone(), b.clone()].concat());

    let o = ours(&["list"], &[&both]);
    let g = gzip(&["-l"], &[&both]);
    assert_ok!(o);
    assert_eq!(o.status.code(), g.status.code());
    let row = |r: &Run| -> Vec<String> {
        let out = String::from_utf8_lossy(&r.stdout).into_owned();
        let line = out.lines().nth(1).expect("a row").to_string();
        line.split_whitespace().map(str::to_string).collect()
    };
    let (mine, theirs) = (row(&o), row(&g));
    assert_eq!(mine[0], theirs[0], "compressed: the file's size");
    assert_eq!(mine[3], theirs[3], "name");
    assert_eq!(mine[1], whole.len().to_string(), "every member counted");
    assert_eq!(theirs[1], b.len().to_string(), "gzip 1.12: the last member");

    // Two multi-member files: the totals add what the rows say.
    let again = dir.file("ab2.gz", &std::fs::read(&both).unwrap());
    let o = ours(&["list", "-v"], &[&both, &again]);
    assert_ok!(o);
    let out = String::from_utf8_lossy(&o.stdout);
    let totals = out.lines().last().unwrap();
    assert!(totals.starts_with(&" ".repeat(28)), "{out}");
    let sums: Vec<&str> = totals.split_whitespace().collect();
    assert_eq!(sums[1], (2 * whole.len()).to_string(), "{out}");

    same("test", &ours(&["test"], &[&both]), &gzip(&["-t"], &[&both]));
    let d = ours(&["decompress", "-c"], &[&both]);
    assert_ok!(d);
    assert!(d.stdout == whole, "decompress -c and gzip -dc differ");
}

/// Zero padding (tape blocks) after the last member: gzip -t and -d accept it without
/// a word, and so do we. (gzip 1.12 -l then prints no row at all; we print the file's.)
#[test]
fn zero_padding_passes_silently_as_in_gzip() {
    let dir = Dir::new("padding");
    let data = text(200_000, 8);
    let gz = compress_file(&dir, &dir.file("d", &data), &["-b", "128K"]);
    for zeros in [1usize, 100, 1000, 10_000] {
        let padded = dir.file(
            &format!("pad{zeros}.gz"),
            &[gz.clone(), vec![0; zeros]].concat(),
        );
        let (o, g) = (ours(&["test"], &[&padded]), gzip(&["-t"], &[&padded]));
        same(&format!("test, {zeros} zeros"), &o, &g);
        assert_ok!(o);
        assert_eq!(
            (o.stderr.as_str(), g.stderr.as_str()),
            ("", ""),
            "{zeros} zeros"
        );
        let (o, g) = (
            ours(&["decompress", "-c"], &[&padded]),
            gzip(&["-dc"], &[&padded]),
        );
        same(&format!("decompress -c, {zeros} zeros"), &o, &g);
        assert_eq!(
            (o.stderr.as_str(), g.stderr.as_str()),
            ("", ""),
            "{zeros} zeros"
        );
        assert!(o.stdout == data);

        let o = ours(&["list"], &[&padded]);
        assert_eq!(o.status.code(), gzip(&["-l"], &[&padded]).status.code());
        assert_eq!(o.stderr, "");
        let out = String::from_utf8_lossy(&o.stdout);
        let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(row[0], (gz.len() + zeros).to_string(), "the file's size");
        assert_eq!(row[1], data.len().to_string());
    }
}

/// Anything else after the last member: the data is good and kept, with gzip's warning
/// and status 2 from test, decompress and list alike.
#[test]
fn trailing_garbage_is_warned_of_in_gzips_words() {
    let dir = Dir::new("garbage");
    let data = text(200_000, 9);
    let gz = compress_file(&dir, &dir.file("d", &data), &["-b", "128K"]);
    for (name, tail) in [
        ("text", b"garbage\n".to_vec()),
        ("zeros-then-junk", [vec![0u8; 100], b"x".to_vec()].concat()),
        ("not-a-member", vec![0x1f, 0x8c, 1, 2, 3]),
    ] {
        let bad = dir.file(&format!("{name}.gz"), &[gz.clone(), tail.clone()].concat());
        let cases: [(&[&str], &[&str]); 3] = [
            (&["test"], &["-t"]),
            (&["decompress", "-c"], &["-dc"]),
            (&["list"], &["-l"]),
        ];
        for (mine, theirs) in cases {
            let (o, g) = (ours(mine, &[&bad]), gzip(theirs, &[&bad]));
            assert_eq!(o.status.code(), Some(2), "{name} {mine:?}: {}", o.stderr);
            assert_eq!(
                g.status.code(),
                Some(2),
                "{name} gzip {theirs:?}: {}",
                g.stderr
            );
            let words = format!(
                "{}: decompression OK, trailing garbage ignored",
                bad.display()
            );
            assert!(g.stderr.contains(&format!("gzip: {words}")), "{}", g.stderr);
            let line = format!("gzfleet: {words} ({} bytes)\n", tail.len());
            assert_eq!(o.stderr, line, "{name} {mine:?}");
            if mine[0] == "decompress" {
                assert!(o.stdout == data && g.stdout == data, "{name}: decompressed");
            }
        }
    }
}

#[test]
fn test_and_list_read_stdin_and_refuse_a_terminal() {
    let dir = Dir::new("stdin-tty");
    let gz = dir.file("d.gz", &compress_file(&dir, &dir.file("d", b"data\n"), &[]));
    let bytes = std::fs::read(&gz).unwrap();
    // No file named: stdin, as gzip -t and -l read it.
    for (mine, theirs) in [(&["test"][..], &["-t"][..]), (&["list"], &["-l"])] {
        let o = run_with(gzfleet().env("TZ", "UTC").args(mine), Some(&bytes));
        let g = run_with(
            Command::new("gzip").env("TZ", "UTC").args(theirs),
            Some(&bytes),
        );
        same(&format!("{mine:?} from a pipe"), &o, &g);
        let garbage = [bytes.clone(), b"junk".to_vec()].concat();
        let o = run_with(gzfleet().args(mine), Some(&garbage));
        assert_fails!(
            o,
            2,
            "gzfleet: stdin: decompression OK, trailing garbage ignored"
        );
    }
    for cmd in ["test", "list"] {
        // script(1): stdin and stdout a pseudo-terminal.
        let line = format!("'{}' {cmd}", bin("gzfleet").display());
        let r = run(Command::new("script").args(["-qec", &line, "/dev/null"]));
        let said = String::from_utf8_lossy(&r.stdout);
        assert_eq!(r.status.code(), Some(1), "{cmd}: {said}");
        assert!(said.contains("not read from a terminal"), "{cmd}: {said}");
    }
}

/// Over 4 GiB the trailer holds the size mod 2^32; gzip 1.12 and we decode to give
/// the true size. (Zeros: cheap to make and quick to inflate; gzip takes the longest.)
#[test]
fn list_gives_the_true_size_past_4_gib() {
    let dir = Dir::new("list-4g");
    let size: u64 = (4 << 30) + 12_345;
    let big = dir.join("zeros.gz");
    let make = format!(
        "head -c {size} /dev/zero | '{}' compress -1 -c > '{}'",
        bin("gzfleet").display(),
        big.display()
    );
    assert_ok!(run(Command::new("sh").args(["-c", &make])));
    let bytes = std::fs::read(&big).unwrap();
    let isize = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap());
    assert_eq!(isize, 12_345, "the trailer alone would say 12345");
    let (o, g) = (ours(&["list", "-v"], &[&big]), gzip(&["-lv"], &[&big]));
    same("list -v past 4 GiB", &o, &g);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!(" {size}  99.")), "{out}");
    let t = ours(&["test"], &[&big]);
    assert_ok!(t);
    assert_eq!((t.stdout.as_slice(), t.stderr.as_str()), (&b""[..], ""));
}

/// A damaged file is an error with no row, from both, and the problem named; the good
/// files beside it are listed and totalled as gzip lists them. (A file cut short makes
/// gzip stop at once, the files after it unread; we go on to them, status 1 all the
/// same.)
#[test]
fn damaged_files_fail_as_in_gzip() {
    let dir = Dir::new("list-damaged");
    let gz = compress_file(&dir, &dir.file("d", &text(300_000, 10)), &["-b", "128K"]);
    let mut crc = gz.clone();
    let at = crc.len() - 8;
    crc[at] ^= 1;
    let cases = [
        (
            "plain",
            b"plain text\n".to_vec(),
            "not in gzip format",
            "not in gzip format",
        ),
        (
            "cut.gz",
            gz[..gz.len() / 2].to_vec(),
            "unexpected end of file",
            "unexpected end of file",
        ),
        ("crc.gz", crc, "crc error", "CRC-32 mismatch"),
    ];
    let good = dir.file("good.gz", &gz);
    for (name, bytes, gzip_says, we_say) in cases {
        let bad = dir.file(name, &bytes);
        for (mine, theirs) in [
            (&["list"][..], &["-l"][..]),
            (&["list", "-v"], &["-lv"]),
            (&["test"], &["-t"]),
        ] {
            let (o, g) = (ours(mine, &[&bad]), gzip(theirs, &[&bad]));
            same(&format!("{name} {mine:?}"), &o, &g);
            assert_eq!(o.status.code(), Some(1));
            assert!(g.stderr.contains(gzip_says), "{}", g.stderr);
            let line = format!("gzfleet: {}: {we_say}", bad.display());
            assert!(o.stderr.starts_with(&line), "{name} {mine:?}: {}", o.stderr);
            // With a good file after it: that file's row and the totals, status 1.
            let (o, g) = (ours(mine, &[&bad, &good]), gzip(theirs, &[&bad, &good]));
            match name {
                "cut.gz" => {
                    assert_eq!((o.status.code(), g.status.code()), (Some(1), Some(1)));
                    let alone = ours(mine, &[&good]).stdout;
                    assert!(o.stdout.starts_with(&alone), "{mine:?}");
                }
                _ => same(&format!("{name} then a good file, {mine:?}"), &o, &g),
            }
        }
    }
}
