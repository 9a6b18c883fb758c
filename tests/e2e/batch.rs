//! Batches: many files in one run, their chunks scheduled across the fleet together,
//! each into its own .gz; a file that fails named while the others complete.

use std::path::{Path, PathBuf};

use crate::util::*;

/// A tree of files: a large one, an empty one, nested folders, many small ones.
fn tree(dir: &Dir, small: usize) -> Vec<(PathBuf, Vec<u8>)> {
    let root = dir.join("tree");
    let mut files = vec![
        (root.join("big.tar"), mixed(3 << 20, 71)),
        (root.join("empty"), Vec::new()),
        (root.join("a/b/deep.txt"), text(300_000, 72)),
    ];
    for i in 0..small {
        let data = text(100 + (i * 37) % 5000, i as u64);
        files.push((root.join(format!("small/{i:04}.log")), data));
    }
    for (path, data) in &files {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    files
}

fn gz_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

fn decoded(gz: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(gz).expect("output exists"))
        .read_to_end(&mut out)
        .expect("a valid gzip file");
    out
}

#[test]
fn recursive_compresses_every_file_beside_itself_as_a_run_of_one_would() {
    let dir = Dir::new("batch-beside");
    let files = tree(&dir, 40);
    let r = run(gzfleet()
        .args(["compress", "-r", "-b", "128K", "-v"])
        .arg(dir.join("tree")));
    assert_ok!(r);
    for (path, data) in &files {
        assert!(decoded(&gz_of(path)) == *data, "{}", path.display());
        assert!(path.exists(), "input removed without --rm");
    }
    // The same bytes as compressing the file alone.
    let (big, _) = &files[0];
    let alone = compress_file(&dir, big, &["-b", "128K"]);
    assert!(std::fs::read(gz_of(big)).unwrap() == alone);
    tool("gzip", &["-t"], &gz_of(&files[1].0));
    // -v: a line per file, then the run's total and the fleet.
    let per_file = r
        .stderr
        .lines()
        .filter(|l| l.contains("% -- created "))
        .count();
    assert_eq!(per_file, files.len(), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("{} files: ", files.len())),
        "{}",
        r.stderr
    );
}

#[test]
fn output_dir_mirrors_the_tree_and_takes_file_names() {
    let dir = Dir::new("batch-outdir");
    let files = tree(&dir, 3);
    let lone = dir.file("lone.txt", &text(5000, 73));
    let out = dir.join("out");
    let r = run(gzfleet()
        .args(["compress", "-r", "--output-dir"])
        .arg(&out)
        .arg(dir.join("tree"))
        .arg(&lone));
    assert_ok!(r);
    for (path, data) in &files {
        let below = path.strip_prefix(dir.join("tree")).unwrap();
        assert!(
            decoded(&gz_of(&out.join(below))) == *data,
            "{}",
            below.display()
        );
        assert!(!gz_of(path).exists(), "written beside the input too");
    }
    assert!(decoded(&out.join("lone.txt.gz")) == text(5000, 73));
}

#[test]
fn a_thousand_small_files_and_a_large_one_through_two_workers() {
    let dir = Dir::new("batch-fleet");
    let files = tree(&dir, 1000);
    let (w1, w2) = (
        Worker::start(&["--slots", "1"]),
        Worker::start(&["--slots", "1"]),
    );
    let stats = dir.join("stats.json");
    let r = run(gzfleet()
        .args(["compress", "-r", "-b", "128K", "--output-dir"])
        .arg(dir.join("out"))
        .args(["--workers", &addrs(&[&w1, &w2])])
        .arg("--stats-json")
        .arg(&stats)
        .arg(dir.join("tree")));
    assert_ok!(r);
    for (path, data) in &files {
        let below = path.strip_prefix(dir.join("tree")).unwrap();
        let gz = gz_of(&dir.join("out").join(below));
        assert!(decoded(&gz) == *data, "{}", below.display());
    }
    let json = std::fs::read_to_string(&stats).unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["jobs"].as_array().unwrap().len(), files.len());
    // Both workers shared the run.
    assert!(worker_chunks(&json, &w1.addr) > 0 && worker_chunks(&json, &w2.addr) > 0);
    // Same bytes as the embedded pool (and as each file alone).
    let (big, _) = &files[0];
    let gz = gz_of(&dir.join("out/big.tar"));
    assert!(std::fs::read(gz).unwrap() == compress_file(&dir, big, &["-b", "128K"]));
}

#[test]
fn a_file_that_fails_is_named_and_the_others_complete() {
    let dir = Dir::new("batch-fail");
    let files = tree(&dir, 5);
    std::os::unix::fs::symlink("/nonexistent/target", dir.join("tree/dangling")).unwrap();
    let secret = dir.file("tree/secret", b"no entry");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    // Let an unprivileged user into the folders (not the secret).
    for d in ["", "tree", "tree/a", "tree/a/b", "tree/small"] {
        std::fs::set_permissions(
            dir.join(d),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
    }
    let stats = dir.join("stats.json");
    let mut cmd = gzfleet();
    cmd.args(["compress", "-r", "--stats-json"])
        .arg(&stats)
        .arg(dir.join("tree"));
    let r = run(as_unprivileged(&mut cmd));
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    assert!(
        // As gzip -r: a link is not followed without -f.
        r.stderr
            .contains("dangling: Too many levels of symbolic links"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("secret: Permission denied"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 2, "{}", r.stderr);
    for (path, data) in &files {
        assert!(decoded(&gz_of(path)) == *data, "{}", path.display());
    }
    assert!(!dir.join("tree/dangling.gz").exists());
    assert!(!dir.join("tree/secret.gz").exists());
    // The summary counts them.
    let json = std::fs::read_to_string(&stats).unwrap();
    assert_eq!(json_number(&json, "failed"), 2, "{json}");
}

#[test]
fn several_files_to_stdout_are_one_member_each() {
    let dir = Dir::new("batch-stdout");
    let (a, b) = (text(200_000, 74), random(150_000, 75));
    let (pa, pb) = (dir.file("a", &a), dir.file("b", &b));
    let r = run(gzfleet().args(["compress", "-c"]).arg(&pa).arg(&pb));
    assert_ok!(r);
    let gz = dir.file("ab.gz", &r.stdout);
    assert!(tool("gzip", &["-dc"], &gz) == [a, b].concat());
}

#[test]
fn two_inputs_never_share_an_output() {
    let dir = Dir::new("batch-same-output");
    let (a, b) = (text(300_000, 76), text(200_000, 77));
    let pa = dir.file("one/data", &a);
    let pb = dir.file("two/data", &b);
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    // Both would go to out/data.gz. With -f the second would delete the first's
    // partial file; with --rm, lose an input.
    let r = run(gzfleet()
        .args(["compress", "-f", "--rm", "--output-dir"])
        .arg(&out)
        .arg(&pa)
        .arg(&pb));
    // Skipped with a warning, as gzip skips an output that exists (status 2).
    assert_fails!(r, 2, "another input of this run compresses to");
    assert!(r.stderr.contains("two/data"), "{}", r.stderr);
    assert!(
        decoded(&out.join("data.gz")) == a,
        "the first output was harmed"
    );
    assert!(!pa.exists(), "--rm kept the input it compressed");
    assert!(
        std::fs::read(&pb).unwrap() == b,
        "the skipped input was lost"
    );
    // The same file named twice, in two spellings.
    let c = dir.file("c", &text(1000, 78));
    let spelled = dir.join("one/../c");
    let r = run(gzfleet().arg("compress").arg(&c).arg(&spelled));
    assert_fails!(r, 2, "another input of this run compresses to");
    assert!(decoded(&dir.join("c.gz")) == text(1000, 78));
}

#[test]
fn a_large_batch_holds_few_files_open() {
    let dir = Dir::new("batch-fds");
    // A worker that takes 100 times as long as the compression: the first input's one
    // chunk (a hard one) comes back seconds late, the writer waits for it, and the
    // reader runs ahead through the small files as far as the window lets it (twice
    // the worker's 150 slots: some 150 files), setting up their outputs. Under a limit
    // of 64 open files, only a bound on outputs set up ahead lets the run finish.
    let worker = Worker::start_faulty(&["--slots", "150", "--fault-slow", "100"]);
    // (Six bits of noise a byte: deflate -9 searches hard and finds little.)
    let big: Vec<u8> = random(128 << 10, 299)
        .iter()
        .map(|b| b'0' + (b & 63))
        .collect();
    let mut files = vec![(dir.file("in/big", &big), big)];
    files.extend((0..400).map(|i| {
        let data = text(2000 + i, 300 + i as u64);
        (dir.file(&format!("in/f{i:03}"), &data), data)
    }));
    let mut cmd = gzfleet();
    cmd.args([
        "compress",
        "-9",
        "-b",
        "128K",
        "--workers",
        &addrs(&[&worker]),
    ])
    .arg("--output-dir")
    .arg(dir.join("out"))
    .args(files.iter().map(|(p, _)| p));
    // SAFETY: setrlimit in the child between fork and exec touches no shared state.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            let limit = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            match libc::setrlimit(libc::RLIMIT_NOFILE, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let r = run(&mut cmd);
    assert_ok!(r);
    for (path, data) in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            decoded(&dir.join("out").join(format!("{name}.gz"))) == *data,
            "{name}"
        );
    }
}

#[test]
fn an_input_that_fails_midway_in_a_batch_leaves_the_others_whole() {
    let dir = Dir::new("batch-midway");
    let (a, b) = (text(400_000, 79), random(300_000, 80));
    let (pa, pb) = (dir.file("in/a", &a), dir.file("in/b", &b));
    let out = dir.join("out");
    // /proc/self/mem opens, its output is set up, then its first read fails (EIO).
    let r = run(gzfleet()
        .args(["compress", "-b", "128K", "--output-dir"])
        .arg(&out)
        .arg(&pa)
        .arg("/proc/self/mem")
        .arg(&pb));
    assert_fails!(r, 1, "Input/output error");
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(decoded(&out.join("a.gz")) == a);
    assert!(decoded(&out.join("b.gz")) == b);
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["a.gz", "b.gz"], "the failed input left something");
}
