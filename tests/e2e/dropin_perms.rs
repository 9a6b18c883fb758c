//! gzfleet in gzip's place, judged by gzip itself: for each input gzip refuses or
//! warns about (links, FIFOs, devices, setuid, setgid and sticky files, directories,
//! outputs that exist, suffixes), the same exit status, the same files left behind
//! with the same modes, owners and times, and a message naming the same problem; as
//! root and as an unprivileged user where permissions decide.

use std::path::Path;

use crate::side_by_side::*;
use crate::util::*;

const NOBODY: u32 = 65534;
const NOGROUP: u32 = 65534;

fn plain(dir: &Path) {
    std::fs::write(dir.join("a"), text(50_000, 1)).unwrap();
    set_times(&dir.join("a"), 1_000_000_000, 1_100_000_000);
}

/// A folder nobody may work in, holding `a`.
fn nobodys(dir: &Path) {
    plain(dir);
    chown(dir, NOBODY, NOGROUP);
    chown(&dir.join("a"), NOBODY, NOGROUP);
}

fn with_mode(mode: u32) -> impl Fn(&Path) {
    move |dir: &Path| {
        plain(dir);
        chmod(&dir.join("a"), mode);
    }
}

#[test]
fn links_are_refused_as_gzip_refuses_them_and_f_overrides() {
    let symlink = |dir: &Path| {
        plain(dir);
        std::os::unix::fs::symlink("a", dir.join("sl")).unwrap();
    };
    Twins::new("symlink", symlink).agree(
        As::Root,
        &["-k", "sl"],
        "Too many levels of symbolic links",
    );
    Twins::new("symlink-f", symlink).agree(As::Root, &["-kf", "sl"], "");
    // With -c a link is read: nothing is replaced.
    Twins::new("symlink-c", symlink).agree(As::Root, &["-c", "sl"], "");

    let hard = |dir: &Path| {
        plain(dir);
        std::fs::hard_link(dir.join("a"), dir.join("b")).unwrap();
    };
    Twins::new("hardlink", hard).agree(As::Root, &["-k", "a"], "has 1 other link");
    Twins::new("hardlink-f", hard).agree(As::Root, &["-kf", "a"], "");
}

#[test]
fn special_files_are_skipped_with_a_warning() {
    let fifo = |dir: &Path| sh(dir, "mkfifo p");
    Twins::new("fifo", fifo).agree(As::Root, &["-k", "p"], "not a directory or a regular file");
    Twins::new("fifo-f", fifo).agree(As::Root, &["-kf", "p"], "not a directory or a regular file");
    let device = |dir: &Path| sh(dir, "mknod null c 1 3");
    Twins::new("device", device).agree(
        As::Root,
        &["-k", "null"],
        "not a directory or a regular file",
    );
    let folder = |dir: &Path| std::fs::create_dir(dir.join("d")).unwrap();
    Twins::new("folder", folder).agree(As::Root, &["-k", "d"], "is a directory");
    // A warning and an error: the error decides the status.
    Twins::new("folder-and-missing", folder).agree(
        As::Root,
        &["-k", "d", "nothere"],
        "nothere: No such file or directory",
    );
}

#[test]
fn setuid_setgid_and_sticky_inputs() {
    for (mode, needle) in [
        (0o4755, "set-user-ID"),
        (0o2755, "set-group-ID"),
        (0o1644, "sticky bit"),
    ] {
        let case = format!("mode-{mode:o}");
        Twins::new(&case, with_mode(mode)).agree(As::Root, &["-k", "a"], needle);
        // Compressed to stdout they are read.
        Twins::new(&case, with_mode(mode)).agree(As::Root, &["-c", "a"], "");
    }
    // -f overrides the sticky bit, never setuid or setgid.
    Twins::new("setuid-f", with_mode(0o4755)).agree(As::Root, &["-kf", "a"], "set-user-ID");
    Twins::new("setgid-f", with_mode(0o2755)).agree(As::Root, &["-kf", "a"], "set-group-ID");
    Twins::new("sticky-f", with_mode(0o1644)).agree(As::Root, &["-kf", "a"], "");
}

#[test]
fn warnings_about_names() {
    let exists = |dir: &Path| {
        plain(dir);
        std::fs::write(dir.join("a.gz"), b"precious").unwrap();
    };
    Twins::new("exists", exists).agree(As::Root, &["-k", "a"], "a.gz already exists");
    Twins::new("exists-f", exists).agree(As::Root, &["-kf", "a"], "");
    let gz = |dir: &Path| sh(dir, "echo data | gzip > a.gz");
    Twins::new("gz-input", gz).agree(As::Root, &["-k", "a.gz"], "already has .gz suffix");
    Twins::new("unknown-suffix", plain).agree(As::Root, &["-dk", "a"], "unknown suffix");
    Twins::new("missing", plain).agree(
        As::Root,
        &["-dk", "nothere.gz"],
        "No such file or directory",
    );
    let gz_link = |dir: &Path| {
        sh(dir, "echo data | gzip > a.gz && ln -s a.gz l.gz");
    };
    Twins::new("gz-link", gz_link).agree(
        As::Root,
        &["-dk", "l.gz"],
        "Too many levels of symbolic links",
    );
}

#[test]
fn suffix_option_both_ways() {
    Twins::new("suffix", plain).agree(As::Root, &["-k", "-S", ".zz", "a"], "");
    let zz = |dir: &Path| sh(dir, "echo data > a && gzip -S .zz a");
    Twins::new("suffix-d", zz).agree(As::Root, &["-dk", "-S", ".zz", "a.zz"], "");
}

#[test]
fn outputs_keep_owner_group_mode_and_times_as_gzip_gives_them() {
    let owned = |dir: &Path| {
        plain(dir);
        chown(&dir.join("a"), NOBODY, NOGROUP);
        chmod(&dir.join("a"), 0o640);
    };
    Twins::new("owner", owned).agree(As::Root, &["-k", "a"], "");
    let gz = |dir: &Path| {
        sh(dir, "echo data > a && gzip a && chmod 0751 a.gz");
        chown(&dir.join("a.gz"), NOBODY, 0);
        set_times(&dir.join("a.gz"), 1_000_000_000, 1_200_000_000);
    };
    Twins::new("owner-d", gz).agree(As::Root, &["-dk", "a.gz"], "");
}

#[test]
fn a_setuid_gz_owned_by_someone_else_never_yields_a_setuid_file() {
    let setuid_gz = |dir: &Path| {
        sh(dir, "echo '#!/bin/sh' > a && gzip a");
        // chown first: it would clear the setuid bit.
        chown(&dir.join("a.gz"), NOBODY, NOGROUP);
        chmod(&dir.join("a.gz"), 0o4755);
    };
    let (_, ours) =
        Twins::new("setuid-gz", setuid_gz).agree(As::Root, &["-dk", "a.gz"], "set-user-ID");
    assert_eq!(ours.run.status.code(), Some(2));
    Twins::new("setuid-gz-f", setuid_gz).agree(As::Root, &["-dkf", "a.gz"], "set-user-ID");
    Twins::new("setuid-gz-c", setuid_gz).agree(As::Root, &["-dc", "a.gz"], "");
}

#[test]
fn stored_name_and_time_are_restored_with_capital_n_only() {
    let renamed = |dir: &Path| {
        plain(dir);
        sh(
            dir,
            "gzip a && mv a.gz renamed.gz && touch -d 2011-01-01 renamed.gz",
        );
    };
    for args in [
        &["-dk", "renamed.gz"][..],
        &["-dkN", "renamed.gz"],
        &["-dkn", "renamed.gz"],
        &["-dkNn", "renamed.gz"],
    ] {
        Twins::new("restore", renamed).agree(As::Root, args, "");
    }
    let (_, ours) = Twins::new("restore-n", renamed).agree(As::Root, &["-dkN", "renamed.gz"], "");
    let a = ours
        .entries
        .iter()
        .find(|e| e.name == "a")
        .expect("-N restores the name");
    assert_eq!(a.mtime, 1_100_000_000, "-N restores the time");
}

#[test]
fn unprivileged_users_get_what_gzip_gives_them() {
    if !is_root() {
        eprintln!("SKIPPED: the unprivileged half needs root to become nobody");
        return;
    }
    // Own file, own folder: owner kept, and times.
    let t = Twins::new("nobody", nobodys);
    t.agree(As::Nobody, &["-k", "a"], "");
    // A group nobody is not in cannot be given: both fall back alike.
    let foreign_group = |dir: &Path| {
        nobodys(dir);
        chown(&dir.join("a"), NOBODY, 0);
        chmod(&dir.join("a"), 0o664);
    };
    Twins::new("nobody-group", foreign_group).agree(As::Nobody, &["-k", "a"], "");
    // Unreadable: an error, nothing left behind.
    let unreadable = |dir: &Path| {
        nobodys(dir);
        chown(&dir.join("a"), 0, 0);
        chmod(&dir.join("a"), 0o600);
    };
    Twins::new("nobody-unreadable", unreadable).agree(
        As::Nobody,
        &["-k", "a"],
        "Permission denied",
    );
    // The refusals hold without privilege too.
    let hard = |dir: &Path| {
        nobodys(dir);
        std::fs::hard_link(dir.join("a"), dir.join("b")).unwrap();
    };
    Twins::new("nobody-hardlink", hard).agree(As::Nobody, &["-k", "a"], "other link");
    let gz = |dir: &Path| {
        nobodys(dir);
        sh(dir, "gzip -k a && chown nobody:nogroup a.gz && rm a");
    };
    Twins::new("nobody-d", gz).agree(As::Nobody, &["-dk", "a.gz"], "");
}

#[test]
fn recursive_decompression_as_gzip_dr() {
    let tree = |dir: &Path| {
        sh(
            dir,
            "mkdir -p d/sub && seq 1 999 > d/a && seq 5 77 > d/sub/b && echo plain > d/sub/c \
             && gzip d/a d/sub/b",
        )
    };
    let twins = Twins::new("dr", tree);
    twins.agree(As::Root, &["-dkr", "d"], "");
    let diff = run(std::process::Command::new("diff")
        .arg("-r")
        .arg(&twins.gzip.path)
        .arg(&twins.ours.path));
    assert_ok!(diff);
    assert!(
        twins.ours.join("d/sub/b").exists(),
        "nothing decompressed below d"
    );
}

#[test]
fn recursive_compression_as_gzip_r() {
    let tree = |dir: &Path| {
        sh(
            dir,
            "mkdir -p d/s && seq 1 100 > d/a && echo x | gzip > d/b.gz && ln -s a d/l \
             && seq 1 50 > d/s/c",
        )
    };
    let twins = Twins::new("r", tree);
    let (_, ours) = twins.agree(
        As::Root,
        &["-kr", "d"],
        "d/l: Too many levels of symbolic links",
    );
    // A .gz met by -r is passed over without a word, as by gzip.
    assert!(!ours.run.stderr.contains("b.gz"), "{}", ours.run.stderr);
    let listing = |root: &Path| {
        let r = run(std::process::Command::new("find")
            .arg(".")
            .current_dir(root));
        let mut names: Vec<String> = String::from_utf8_lossy(&r.stdout)
            .lines()
            .map(String::from)
            .collect();
        names.sort();
        names
    };
    assert_eq!(listing(&twins.ours.path), listing(&twins.gzip.path));
    assert!(twins.ours.join("d/s/c.gz").exists());
}
