//! gzfleet invoked as gzip and gunzip keeps gzip's defaults, beside the system's gzip
//! 1.12: the input is removed once its output is complete unless -k or -c (as gzfleet
//! it is kept); times the header cannot hold are stored as 0 with gzip's warning;
//! suffixes without a dot, `gzip -d F` finding F.gz, and `-S ''` refused.

use std::path::Path;
use std::process::Command;

use crate::side_by_side::*;
use crate::util::*;

fn one_file(dir: &Path) {
    std::fs::write(dir.join("f"), text(50_000, 31)).unwrap();
}

fn gz(dir: &Path) {
    sh(dir, "seq 1 5000 > f && gzip f");
}

#[test]
fn inputs_go_as_gzip_removes_them_unless_k_or_c() {
    Twins::new("name-c", one_file).agree_as("gzip", &["f"], "");
    Twins::new("name-k", one_file).agree_as("gzip", &["-k", "f"], "");
    Twins::new("name-stdout", one_file).agree_as("gzip", &["-c", "f"], "");
    Twins::new("name-d", gz).agree_as("gzip", &["-d", "f.gz"], "");
    Twins::new("name-gunzip", gz).agree_as("gunzip", &["f.gz"], "");
    Twins::new("name-gunzip-k", gz).agree_as("gunzip", &["-k", "f.gz"], "");
    Twins::new("name-zcat", gz).agree_as("zcat", &["f.gz"], "");
    // A damaged .gz is never replaced by what it held.
    let cut = |dir: &Path| sh(dir, "seq 1 5000 | gzip > f.gz && truncate -s 1000 f.gz");
    Twins::new("name-cut", cut).agree_as("gunzip", &["f.gz"], "unexpected end of file");
    // gzip f; gzip -d f.gz: f and f.gz alternate, through gzfleet as through gzip.
    let dir = Dir::new("alternate");
    let data = text(10_000, 32);
    dir.file("f", &data);
    let gzip = |args: &[&str]| {
        assert_ok!(run(Command::new(named("gzip"))
            .args(args)
            .current_dir(&dir.path)))
    };
    gzip(&["f"]);
    assert_eq!(dir.names(), ["f.gz"]);
    gzip(&["-d", "f.gz"]);
    assert_eq!(dir.names(), ["f"]);
    assert!(std::fs::read(dir.join("f")).unwrap() == data);
    // As gzfleet, the input stays.
    assert_ok!(run(gzfleet().arg("f").current_dir(&dir.path)));
    assert_eq!(dir.names(), ["f", "f.gz"]);
}

/// A file dated `when` (touch -d's words).
fn dated(when: &'static str) -> impl Fn(&Path) {
    move |dir| sh(dir, &format!("echo data > f && touch -d '{when}' f"))
}

#[test]
fn times_gzip_cannot_store_are_warned_about_as_gzip_does() {
    let warning = "file timestamp out of range for gzip format";
    for (case, when) in [
        ("epoch", "@0"),
        ("before-1970", "1969-07-20 20:17:40 UTC"),
        ("2106", "2106-02-07 06:28:16 UTC"),
        ("far", "2400-01-01 00:00:00 UTC"),
    ] {
        let (gzip, ours) = Twins::new(case, dated(when)).agree(As::Root, &["-c", "f"], warning);
        // MTIME 0, as gzip writes it.
        assert_eq!(ours.run.stdout[4..8], [0; 4], "{case}");
        assert_eq!(gzip.run.stdout[4..8], [0; 4], "{case}");
        Twins::new(case, dated(when)).agree(As::Root, &["-k", "f"], warning);
        Twins::new(case, dated(when)).agree(As::Root, &["-qc", "f"], "");
        Twins::new(case, dated(when)).agree(As::Root, &["-nc", "f"], "");
    }
    for (case, when, mtime) in [
        ("2106-last", "2106-02-07 06:28:15 UTC", u32::MAX),
        ("2038", "2038-01-19 03:14:08 UTC", 1 << 31),
        ("one", "@1", 1),
    ] {
        let (_, ours) = Twins::new(case, dated(when)).agree(As::Root, &["-c", "f"], "");
        assert_eq!(ours.run.stdout[4..8], mtime.to_le_bytes(), "{case}");
    }
    // -Nlv shows a stored time of 0xffffffff as gzip shows it.
    let stored = |dir: &Path| {
        sh(
            dir,
            "echo data > f && touch -d '2106-02-07 06:28:15 UTC' f && gzip -N f",
        );
    };
    let twins = Twins::new("nlv", stored);
    let (gzip, ours) = twins.run(As::Root, &["-Nlv", "f.gz"]);
    assert_ok!(ours.run);
    assert_eq!(
        String::from_utf8_lossy(&ours.run.stdout),
        String::from_utf8_lossy(&gzip.run.stdout)
    );
    assert!(String::from_utf8_lossy(&ours.run.stdout).contains("Feb  7 06:28"));
}

#[test]
fn suffixes_as_gzip_takes_them() {
    Twins::new("suffix-z", one_file).agree(As::Root, &["-k", "-S", "z", "f"], "");
    let fz = |dir: &Path| sh(dir, "seq 1 5000 > f && gzip -S z f");
    Twins::new("suffix-dz", fz).agree_as("gzip", &["-d", "-S", "z", "f"], "");
    Twins::new("suffix-dz-named", fz).agree_as("gzip", &["-d", "-S", "z", "fz"], "");
    Twins::new("find-gz", gz).agree_as("gzip", &["-d", "f"], "");
    Twins::new("find-gz-k", gz).agree(As::Root, &["-dk", "f"], "");
    let upper = |dir: &Path| sh(dir, "seq 1 5000 > f && gzip -S .Z f");
    Twins::new("find-Z", upper).agree_as("gzip", &["-d", "f"], "");
    Twins::new("missing", one_file).agree_as(
        "gzip",
        &["-d", "nothere"],
        "nothere.gz: No such file or directory",
    );
    let tgz = |dir: &Path| {
        sh(
            dir,
            "seq 1 5000 > f && gzip -c f > x.tgz && gzip -c f > y.TAZ && gzip -c f > z-gz",
        )
    };
    Twins::new("tgz", tgz).agree_as("gzip", &["-d", "x.tgz", "y.TAZ", "z-gz"], "");
    Twins::new("empty-suffix", one_file).agree(As::Root, &["-S", "", "f"], "invalid suffix ''");
    Twins::new("empty-suffix-d", gz).agree(
        As::Root,
        &["-d", "-S", "", "f.gz"],
        "invalid suffix ''",
    );
}
