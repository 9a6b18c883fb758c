//! Every bad input: one clear line on stderr, a non-zero exit, no panic, nothing left
//! behind, and the input untouched.

use std::process::Command;

use crate::util::*;

/// The error is one line, names the problem, and is not a panic.
fn one_line(r: &Run) {
    assert_eq!(
        r.stderr.lines().count(),
        1,
        "expected one line:\n{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"));
}

#[test]
fn missing_file() {
    let dir = Dir::new("missing");
    let r = run(gzfleet().arg("compress").arg(dir.join("nothere")));
    assert_fails!(r, 1, "nothere: No such file or directory");
    one_line(&r);
    assert!(dir.names().is_empty());
}

#[test]
fn directory() {
    let dir = Dir::new("dirin");
    std::fs::create_dir(dir.join("sub")).unwrap();
    let r = run(gzfleet().arg("compress").arg(dir.join("sub")));
    // A warning in gzip's terms: exit status 2.
    assert_fails!(r, 2, "is a directory");
    one_line(&r);
    assert_eq!(dir.names(), ["sub"]);
}

#[test]
fn unreadable_file() {
    let dir = Dir::new("unreadable");
    let input = dir.file("secret", b"data");
    std::fs::set_permissions(&input, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    // Let an unprivileged user into the folder (but not the file).
    std::fs::set_permissions(
        &dir.path,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let mut cmd = gzfleet();
    cmd.arg("compress").arg(&input);
    let r = run(as_unprivileged(&mut cmd));
    assert_fails!(r, 1, "secret: Permission denied");
    one_line(&r);
    assert_eq!(dir.names(), ["secret"]);
}

#[test]
fn read_error_mid_input_removes_the_partial_output() {
    // /proc/self/mem is a regular file whose first read fails with EIO.
    let dir = Dir::new("eio");
    let out = dir.join("out.gz");
    let r = run(gzfleet()
        .args(["compress", "-f", "-o"])
        .arg(&out)
        .arg("/proc/self/mem"));
    assert_fails!(r, 1, "Input/output error");
    one_line(&r);
    assert!(dir.names().is_empty(), "left behind: {:?}", dir.names());
}

#[test]
fn existing_output_is_kept_without_force() {
    let dir = Dir::new("exists");
    let input = dir.file("data", &text(1000, 1));
    let existing = dir.file("data.gz", b"precious");
    let r = run(gzfleet().arg("compress").arg(&input));
    // A warning in gzip's terms: exit status 2.
    assert_fails!(r, 2, "data.gz already exists; use -f to overwrite");
    one_line(&r);
    assert_eq!(std::fs::read(&existing).unwrap(), b"precious");
    assert_eq!(dir.names(), ["data", "data.gz"]);
    let forced = run(gzfleet().args(["compress", "-f"]).arg(&input));
    assert_ok!(forced);
    assert_decodes(&existing, &text(1000, 1));
}

#[test]
fn disk_full_leaves_nothing() {
    // A 256 KiB tmpfs in a private mount namespace fills up for real (ENOSPC).
    let dir = Dir::new("full");
    let input = dir.file("noise", &random(2 << 20, 3));
    let mount = dir.join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=256k none '{m}' && '{bin}' compress -o '{m}/noise.gz' '{i}'; s=$?; ls -A '{m}' >&2; exit $s",
        m = mount.display(),
        bin = bin("gzfleet").display(),
        i = input.display()
    );
    let r = run(Command::new("unshare").args(["-m", "sh", "-c", &script]));
    assert_fails!(r, 1, "No space left on device");
    // The only line besides the error would be a leftover file listed by ls.
    one_line(&r);
    assert_eq!(
        std::fs::read(&input).unwrap().len(),
        2 << 20,
        "input damaged"
    );
}

#[test]
fn a_full_disk_keeps_durable_progress_and_resume_finishes_once_there_is_room() {
    // 4 MiB of noise into a 1 MiB tmpfs, made durable after every chunk: the disk
    // fills after some chunks are durable. Hours of work on a real job: kept.
    let dir = Dir::new("full-resume");
    let input = dir.file("noise", &random(4 << 20, 5));
    let args = "-1 -b 128K -p 1 --sync-interval 0s";
    let reference = compress_file(&dir, &input, &args.split(' ').collect::<Vec<_>>());
    let mount = dir.join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=1m none '{m}' || exit 9
         '{bin}' compress {args} -o '{m}/noise.gz' '{i}'; echo \"first: $?\" >&2
         ls -A '{m}' >&2
         mount -o remount,size=16m '{m}' || exit 9
         '{bin}' compress {args} --resume -v -o '{m}/noise.gz' '{i}'; echo \"resumed: $?\" >&2
         cp '{m}/noise.gz' '{out}'",
        m = mount.display(),
        bin = bin("gzfleet").display(),
        i = input.display(),
        out = dir.join("out.gz").display(),
    );
    let r = run(Command::new("unshare").args(["-m", "sh", "-c", &script]));
    assert!(r.stderr.contains("No space left on device"), "{}", r.stderr);
    assert!(r.stderr.contains("partial output kept in"), "{}", r.stderr);
    assert!(r.stderr.contains("first: 1"), "{}", r.stderr);
    let left: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("noise.gz"))
        .collect();
    assert_eq!(
        left,
        ["noise.gz.gzfleet-journal", "noise.gz.gzfleet-partial"],
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("resuming after chunk"), "{}", r.stderr);
    assert!(r.stderr.contains("resumed: 0"), "{}", r.stderr);
    assert!(std::fs::read(dir.join("out.gz")).unwrap() == reference);
}

#[test]
fn stdout_full() {
    let dir = Dir::new("devfull");
    let input = dir.file("noise", &random(1 << 20, 4));
    let other = dir.file("other", &random(1 << 20, 5));
    // Two inputs: the first cut short stops the run; the second is not written after
    // it (the stream would hold a truncated member followed by a whole one).
    let line = format!(
        "'{}' compress -c '{}' '{}' > /dev/full",
        bin("gzfleet").display(),
        input.display(),
        other.display()
    );
    let r = run(Command::new("sh").args(["-c", &line]));
    assert_fails!(r, 1, "stdout: No space left on device");
    one_line(&r);
}

#[test]
fn bad_sizes_and_levels() {
    let dir = Dir::new("args");
    let input = dir.file("data", b"x");
    for (args, needle) in [
        (&["-b", "12Q"][..], "unknown unit 'Q'"),
        (&["-b", "64K"][..], "outside 128K..64M"),
        (&["-b", "huge"][..], "invalid size 'huge'"),
        (&["--level", "13"][..], "13 is not in 0..=12"),
        (&["-p", "0"][..], "0 is not in 1..=4096"),
        (&["--wait-workers", "soon"][..], "invalid duration 'soon'"),
        (
            &["--workers", "nohost"][..],
            "invalid worker address 'nohost'",
        ),
    ] {
        let r = run(gzfleet().arg("compress").args(args).arg(&input));
        assert_fails!(r, 1, needle);
        one_line(&r);
        assert_eq!(dir.names(), ["data"], "after {args:?}");
    }
}

#[test]
fn refuses_to_write_compressed_data_to_a_terminal() {
    let dir = Dir::new("tty");
    let input = dir.file("data", b"some data");
    let line = format!(
        "'{}' compress -c '{}'",
        bin("gzfleet").display(),
        input.display()
    );
    // script(1) gives the command a pseudo-terminal as stdout.
    let r = run(Command::new("script").args(["-qec", &line, "/dev/null"]));
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stdout)
    );
    assert!(String::from_utf8_lossy(&r.stdout).contains("not written to a terminal"));
}

#[test]
fn not_gzip_and_truncated_gzip() {
    let dir = Dir::new("badgz");
    let plain = dir.file("plain.txt.gz", b"this is not gzip at all");
    let r = run(gzfleet().arg("decompress").arg(&plain));
    assert_fails!(r, 1, "plain.txt.gz: not in gzip format");
    one_line(&r);
    let t = run(gzfleet().arg("test").arg(&plain));
    assert_fails!(t, 1, "not in gzip format");

    let data = text(300_000, 2);
    let gz = compress_file(&dir, &dir.file("src", &data), &[]);
    let cut = dir.file("cut.gz", &gz[..gz.len() / 2]);
    let r = run(gzfleet().arg("decompress").arg(&cut));
    assert_fails!(r, 1, "unexpected end of file");
    one_line(&r);
    let t = run(gzfleet().arg("test").arg(&cut));
    assert_fails!(t, 1, "unexpected end of file");
    assert_eq!(
        dir.names(),
        ["cut.gz", "plain.txt.gz", "src"],
        "decompress left output behind"
    );
}

#[test]
fn usage_mistakes() {
    let dir = Dir::new("usage");
    let a = dir.file("a", b"a");
    let b = dir.file("b", b"b");
    let r = run(gzfleet()
        .args(["compress", "-o"])
        .arg(dir.join("x.gz"))
        .arg(&a)
        .arg(&b));
    assert_fails!(r, 1, "-o/--output takes a single input");
    let gz = dir.file("c.gz", b"");
    let r = run(gzfleet().arg("compress").arg(&gz));
    // gzip says so and counts it as no failure (status 0).
    assert_fails!(r, 0, "already has .gz suffix");
    let r = run_with(gzfleet().args(["compress", "--resume"]), Some(b"data"));
    assert_fails!(r, 1, "stdin cannot be resumed");
    assert_eq!(dir.names(), ["a", "b", "c.gz"]);
}

#[test]
fn progress_is_shown_on_a_terminal_for_long_jobs_only() {
    let dir = Dir::new("progress");
    // Long enough (over a second at -9 on one thread) for the bar to appear.
    let input = dir.file("data", &text(24 << 20, 8));
    let on_tty = |extra: &str| {
        let line = format!(
            "'{}' compress -9 -p 1 {extra} -c '{}' > /dev/null",
            bin("gzfleet").display(),
            input.display()
        );
        let r = run(Command::new("script").args(["-qec", &line, "/dev/null"]));
        assert!(r.status.success());
        String::from_utf8_lossy(&r.stdout).into_owned()
    };
    assert!(on_tty("").contains("ETA"), "no progress bar on a terminal");
    assert!(!on_tty("-q").contains("ETA"), "-q still shows progress");
    // stderr not a terminal: nothing but the summary asked for.
    let r = run(gzfleet()
        .args(["compress", "-9", "-p", "1", "-v", "-c"])
        .arg(&input));
    assert_ok!(r);
    assert_eq!(r.stderr.lines().count(), 2, "{}", r.stderr);
}

#[test]
fn rm_removes_the_input_only_after_a_complete_output() {
    let dir = Dir::new("rm");
    let data = text(300_000, 9);
    let input = dir.file("data", &data);
    dir.file("data.gz", b"precious");
    let refused = run(gzfleet().args(["compress", "--rm"]).arg(&input));
    assert_fails!(refused, 2, "already exists");
    assert!(input.exists(), "--rm removed the input of a failed run");
    let r = run(gzfleet().args(["compress", "--rm", "-f"]).arg(&input));
    assert_ok!(r);
    assert!(!input.exists(), "--rm kept the input");
    assert_decodes(&dir.join("data.gz"), &data);
    // Without --rm the input stays (gzip's -k is the default here).
    let again = dir.file("again", &data);
    assert_ok!(run(gzfleet().arg("compress").arg(&again)));
    assert!(again.exists());
}

#[test]
fn worker_limits_that_cannot_work_are_refused() {
    for (args, needle) in [
        (&["--queue", "0"][..], "0 is not in 1..=65536"),
        (
            &["--max-chunk", "0"][..],
            "--max-chunk 0 bytes is outside 128 KiB..64 MiB",
        ),
        (&["--max-chunk", "1G"][..], "outside 128 KiB..64 MiB"),
    ] {
        // A worker that accepted the limit would serve until killed: bound the wait.
        let r = run_within(Command::new(bin("gzfleet-worker")).args(args), 10);
        assert_fails!(r, 1, needle);
        one_line(&r);
    }
}
