//! Data that is not compressed, as gzip's companions hand it over: `gzip -cdf` and
//! `zcat -f` copy it unchanged as cat would (alone, after a member, beside a .gz in one
//! command), and so zgrep, zless, zdiff and znew work on plain and compressed files
//! with gzfleet installed as gzip (a PATH folder whose gzip, gunzip and zcat are links
//! to it), as they do with gzip itself. Each beside the system's gzip 1.12.

use std::path::Path;
use std::process::Command;

use crate::side_by_side::*;
use crate::util::*;

fn gz_of(data: &[u8]) -> Vec<u8> {
    let r = run_with(Command::new("gzip").arg("-c"), Some(data));
    assert_ok!(r);
    r.stdout
}

fn files(dir: &Path) {
    std::fs::write(dir.join("plain"), b"plain text\nwith a-b in it\n").unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
    std::fs::write(dir.join("one"), b"\x1f").unwrap();
    let mut then = gz_of(b"a member\n");
    then.extend_from_slice(b"then plain\0\0P");
    std::fs::write(dir.join("then.gz"), then).unwrap();
    std::fs::write(dir.join("z.gz"), gz_of(b"compressed\n")).unwrap();
}

#[test]
fn what_is_not_compressed_passes_through_as_gzip_passes_it() {
    for args in [
        &["-cdf", "plain"][..],
        &["-cdf", "empty"],
        &["-cdf", "one"],
        &["-cdf", "then.gz"],
        &["-cdf", "plain", "z.gz", "then.gz", "plain"],
        &["-tf", "plain"],
        &["-tf", "plain", "z.gz"],
    ] {
        Twins::new("plain", files).agree(As::Root, args, "");
    }
    // zcat -f, and from stdin.
    Twins::new("plain-zcat", files).agree_as("zcat", &["-f", "plain", "z.gz"], "");
    let plain = b"piped plain data\n";
    let ours = run_with(Command::new(named("zcat")).arg("-f"), Some(plain));
    let theirs = run_with(Command::new("zcat").arg("-f"), Some(plain));
    assert_ok!(ours);
    assert!(ours.stdout == theirs.stdout && ours.stdout == plain);
    // Without -f, or to a file, it is still no gzip data.
    Twins::new("plain-no-f", files).agree(As::Root, &["-cd", "plain"], "not in gzip format");
    Twins::new("plain-to-file", files).agree(
        As::Root,
        &["-dkf", "then.gz"],
        "trailing garbage ignored",
    );
    Twins::new("plain-t", files).agree(As::Root, &["-t", "plain"], "not in gzip format");
    Twins::new("plain-l", files).agree(As::Root, &["-lf", "plain"], "not in gzip format");
}

/// A PATH holding gzip, gunzip and zcat: gzfleet's links, or the system's.
fn path_with(ours: bool) -> String {
    let system = std::env::var("PATH").unwrap_or_default();
    match ours {
        true => format!("{}:{system}", named("gzip").parent().unwrap().display()),
        false => system,
    }
}

/// Runs a shell line in `dir` with gzfleet as gzip, then with gzip, and returns both.
fn both(dir: &Dir, line: &str) -> (Run, Run) {
    let sh = |ours| {
        run(Command::new("sh")
            .args(["-c", line])
            .env("PATH", path_with(ours))
            .current_dir(&dir.path))
    };
    (sh(true), sh(false))
}

#[test]
fn zgrep_zless_zdiff_and_znew_through_gzfleet_as_gzip() {
    // The scripts find gzip on the PATH; a check that they found ours.
    let dir = Dir::new("zscripts");
    files(&dir.path);
    let found = run(Command::new("sh")
        .args(["-c", "gzip -V"])
        .env("PATH", path_with(true)));
    assert!(String::from_utf8_lossy(&found.stdout).contains("gzfleet"));
    for line in [
        "zgrep -e - plain",
        "zgrep compressed z.gz plain",
        "zgrep -c a then.gz plain z.gz",
        "echo a-b | zgrep -e -",
        "zgrep nothing plain z.gz",
        "zless plain z.gz | cat",
        "zdiff plain z.gz",
        "zdiff z.gz z.gz",
        "zcmp plain plain",
    ] {
        let (ours, gzip) = both(&dir, line);
        assert_eq!(
            ours.status.code(),
            gzip.status.code(),
            "{line}: {}",
            ours.stderr
        );
        assert!(
            ours.stdout == gzip.stdout,
            "{line}: {}",
            String::from_utf8_lossy(&ours.stdout)
        );
        assert_eq!(ours.stderr, gzip.stderr, "{line}");
    }
    // znew turns .Z into .gz: through gzfleet it leaves what it leaves through gzip.
    let data = text(20_000, 21);
    for ours in [true, false] {
        let dir = Dir::new("znew");
        let z = run_with(Command::new("compress").arg("-cf"), Some(&data));
        assert_ok!(z);
        dir.file("f.Z", &z.stdout);
        let r = run(Command::new("znew")
            .arg("f.Z")
            .env("PATH", path_with(ours))
            .current_dir(&dir.path));
        assert_ok!(r);
        assert_eq!(dir.names(), ["f.gz"]);
        assert!(decoded(&std::fs::read(dir.join("f.gz")).unwrap()) == data);
    }
}
