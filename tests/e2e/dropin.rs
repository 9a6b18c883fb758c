//! gzfleet where gzip and pigz were: gzip's command-line form, the names gunzip and
//! zcat, `tar -I`, the options gzip and pigz users type, terminals and closed pipes;
//! each compared with the system's gzip doing the same.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::side_by_side::*;
use crate::util::*;

/// gzfleet under another name (a link, as packagers install gunzip and zcat).
fn named(dir: &Dir, name: &str) -> PathBuf {
    let link = dir.join(name);
    std::os::unix::fs::symlink(bin("gzfleet"), &link).unwrap();
    link
}

/// A shell line's outcome when run under a pseudo-terminal (script(1)): what it
/// printed, terminal and all, and its status.
fn on_terminal(line: &str) -> (Option<i32>, String) {
    let r = run(Command::new("script").args(["-qec", line, "/dev/null"]));
    (
        r.status.code(),
        String::from_utf8_lossy(&r.stdout).into_owned(),
    )
}

#[test]
fn gzip_form_compresses_decompresses_tests_and_lists() {
    let data = text(300_000, 1);
    let setup = |dir: &Path| std::fs::write(dir.join("a"), &data).unwrap();
    Twins::new("form-c", setup).agree(As::Root, &["-k", "a"], "");
    Twins::new("form-stdout", setup).agree(As::Root, &["-c9", "a"], "");
    let gz = |dir: &Path| sh(dir, "seq 1 20000 > a && gzip a");
    Twins::new("form-d", gz).agree(As::Root, &["-dk", "a.gz"], "");
    Twins::new("form-dc", gz).agree(As::Root, &["-dc", "a.gz"], "");
    Twins::new("form-t", gz).agree(As::Root, &["-t", "a.gz"], "");
    let (_, list) = Twins::new("form-l", gz).run(As::Root, &["-l", "a.gz"]);
    assert_ok!(list.run);
    assert!(
        String::from_utf8_lossy(&list.run.stdout).contains("108894"),
        "-l lists the true size"
    );
    // Through stdin and stdout, as tar and pipelines use it.
    let piped = run_with(gzfleet().args(["-p", "2"]), Some(&data));
    assert_ok!(piped);
    let back = run_with(Command::new("gzip").arg("-d"), Some(&piped.stdout));
    assert!(back.stdout == data, "gzip -d does not give the input back");
    let ours = run_with(gzfleet().arg("-d"), Some(&piped.stdout));
    assert!(ours.stdout == data);
}

#[test]
fn a_file_named_like_a_subcommand() {
    let dir = Dir::new("subcommand-name");
    dir.file("compress", b"not a command");
    assert_ok!(run(gzfleet()
        .args(["--", "compress"])
        .current_dir(&dir.path)));
    assert_ok!(run(gzfleet()
        .args(["-f", "./compress"])
        .current_dir(&dir.path)));
    assert_eq!(
        decoded(&std::fs::read(dir.join("compress.gz")).unwrap()),
        b"not a command"
    );
    // And the subcommands still work.
    assert_ok!(run(gzfleet()
        .args(["test", "compress.gz"])
        .current_dir(&dir.path)));
}

#[test]
fn gunzip_and_zcat_by_name_as_the_real_ones() {
    let dir = Dir::new("names");
    let data = text(100_000, 2);
    let gz = dir.file("f.gz", &gz_bytes(&data));
    let zcat = run(Command::new(named(&dir, "zcat")).arg(&gz));
    assert_ok!(zcat);
    assert!(zcat.stdout == data);
    let real = run(Command::new("zcat").arg(&gz));
    assert!(zcat.stdout == real.stdout);
    // gunzip -t is a test, as gunzip's.
    assert_ok!(run(Command::new(named(&dir, "gunzip"))
        .args(["-t"])
        .arg(&gz)));
    // Named gunzip, it keeps gunzip's default: the .gz goes once f is complete.
    let gunzip = run(Command::new(named(&dir, "gzfleet-gunzip")).arg(&gz));
    assert_ok!(gunzip);
    assert!(std::fs::read(dir.join("f")).unwrap() == data);
    assert!(!gz.exists(), "gunzip removes its input");
}

fn gz_bytes(data: &[u8]) -> Vec<u8> {
    let r = run_with(Command::new("gzip").arg("-c"), Some(data));
    assert_ok!(r);
    r.stdout
}

#[test]
fn the_last_level_wins_and_gzip_and_pigz_spellings_are_read() {
    let dir = Dir::new("levels");
    let input = dir.file("data", &text(400_000, 3));
    let out = |args: &[&str]| {
        let r = run(gzfleet().args(args).arg("-c").arg(&input));
        assert_ok!(r);
        r.stdout
    };
    let (one, nine) = (out(&["-1"]), out(&["-9"]));
    assert!(one != nine);
    assert!(out(&["-9", "-1"]) == one, "-9 -1 is level 1, as in gzip");
    assert!(out(&["--level", "6", "-9"]) == nine);
    assert!(out(&["--fast"]) == one && out(&["--best"]) == nine);
    assert!(
        out(&["-b", "128"]) == out(&["-b", "128K"]),
        "-b 128 is KiB, as in pigz"
    );
    // gzip takes the same line.
    assert_ok!(run(Command::new("gzip")
        .args(["-9", "-1", "-c"])
        .arg(&input)));
    // Options gzip users type anywhere.
    for args in [
        &["-V"][..],
        &["compress", "-V"],
        &["decompress", "--version"],
        &["-d", "-V"],
        &["test", "-V"],
    ] {
        let r = run(gzfleet().args(args));
        assert_ok!(r);
        // The program's name, as gzip -V says gzip's, not clap's "gzfleet-compress".
        assert_eq!(
            String::from_utf8_lossy(&r.stdout).trim(),
            concat!("gzfleet ", env!("CARGO_PKG_VERSION")),
            "{args:?}"
        );
    }
    let license = run(gzfleet().arg("-L"));
    assert_ok!(license);
    assert!(String::from_utf8_lossy(&license.stdout).contains("Apache License"));
    let help = run(gzfleet().arg("--help"));
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("-k, --keep"),
        "-k hidden"
    );
}

#[test]
fn usage_errors_are_whole_and_exit_1_as_gzip() {
    let ours = run(gzfleet().args(["--level", "13", "x"]));
    let gzip = run(Command::new("gzip").args(["--bogus"]));
    assert_eq!(gzip.status.code(), Some(1));
    assert_fails!(ours, 1, "13 is not in 0..=12");
    let ours = run(gzfleet().args(["-c", "--output-dir", "d", "x"]));
    assert_fails!(
        ours,
        1,
        "'--stdout' cannot be used with '--output-dir <DIR>'"
    );
    assert_eq!(ours.stderr.lines().count(), 1, "{}", ours.stderr);
}

#[test]
fn terminals_as_gzip_treats_them() {
    let dir = Dir::new("tty");
    let gz = dir.file("f.gz", &gz_bytes(b"printed on the terminal\n"));
    let g = bin("gzfleet");
    // stdin a terminal: no compressed data is read from it.
    for (ours, theirs) in [
        (format!("'{}' -d", g.display()), "gzip -d".to_string()),
        (format!("'{}' -t", g.display()), "gzip -t".to_string()),
        (format!("'{}'", g.display()), "gzip".to_string()),
    ] {
        let (code, text) = on_terminal(&ours);
        let (gzip_code, gzip_text) = on_terminal(&theirs);
        assert_eq!(code, gzip_code, "{ours}: {text}");
        assert_eq!(code, Some(1));
        let problem = if theirs == "gzip" {
            "compressed data not written to a terminal"
        } else {
            "compressed data not read from a terminal"
        };
        assert!(
            text.contains(problem) && gzip_text.contains(problem),
            "{ours}: {text}"
        );
    }
    // Decompressed data is printed, as gzip -dc and zcat print it.
    let (code, text) = on_terminal(&format!("'{}' -dc '{}'", g.display(), gz.display()));
    assert_eq!(code, Some(0));
    assert!(text.contains("printed on the terminal"), "{text}");
    let zcat = named(&dir, "zcat");
    let (code, text) = on_terminal(&format!("'{}' '{}'", zcat.display(), gz.display()));
    assert_eq!(code, Some(0));
    assert!(text.contains("printed on the terminal"), "{text}");
}

#[test]
fn a_reader_that_goes_away_ends_it_quietly_as_gzip() {
    let dir = Dir::new("pipe");
    let big = dir.file("big", &random(4 << 20, 4));
    let gz = dir.file("big.gz", &gz_bytes(&std::fs::read(&big).unwrap()));
    let status = |cmd: String| {
        let line = format!("set -o pipefail; {cmd} | head -c 10 > /dev/null");
        let r = run(Command::new("bash").args(["-c", &line]));
        (r.status.code(), r.stderr)
    };
    for (ours, theirs) in [
        (
            format!("'{}' -dc '{}'", bin("gzfleet").display(), gz.display()),
            format!("gzip -dc '{}'", gz.display()),
        ),
        (
            format!("'{}' -c '{}'", bin("gzfleet").display(), big.display()),
            format!("gzip -c '{}'", big.display()),
        ),
    ] {
        let (code, stderr) = status(ours.clone());
        let (gzip_code, _) = status(theirs);
        assert_eq!(code, gzip_code, "{ours}: {stderr}");
        assert_eq!(code, Some(141), "killed by SIGPIPE, as gzip");
        assert_eq!(stderr, "", "{ours} said something");
    }
}

/// A tree tar must carry: long names, links, an empty file, folders.
fn tree(root: &Path) {
    let long = "n".repeat(200);
    let deep = root.join(format!("{long}/{long}/{long}"));
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join(&long), text(200_000, 5)).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(root.join("noise"), random(3 << 20, 6)).unwrap();
    std::os::unix::fs::symlink("noise", root.join("link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent", root.join("dangling")).unwrap();
}

#[test]
fn tar_creates_and_extracts_through_gzfleet() {
    let dir = Dir::new("tar");
    tree(&dir.join("src"));
    let g = bin("gzfleet").display().to_string();
    for program in [g.clone(), format!("{g} -p 2")] {
        let archive = dir.join("x.tar.gz");
        let _ = std::fs::remove_file(&archive);
        let r = run(Command::new("tar")
            .arg("-I")
            .arg(&program)
            .arg("-cf")
            .arg(&archive)
            .arg("-C")
            .arg(dir.join("src"))
            .arg("."));
        assert_ok!(r);
        tool("gzip", &["-t"], &archive);
        for (name, how) in [("by-gzfleet", Some(program.as_str())), ("by-gzip", None)] {
            let out = dir.join(name);
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir(&out).unwrap();
            let mut tar = Command::new("tar");
            match how {
                Some(p) => tar.arg("-I").arg(p).arg("-xf"),
                None => tar.arg("-xzf"),
            };
            assert_ok!(run(tar.arg(&archive).arg("-C").arg(&out)));
            let diff = run(Command::new("diff")
                .args(["-r", "--no-dereference"])
                .arg(dir.join("src"))
                .arg(&out));
            assert_ok!(diff);
        }
    }
}
