//! Pull mode: real workers whose `--root`s are separate folders holding the same files
//! (two machines mounting one volume), reading their own ranges; the same bytes as push
//! mode and the embedded pool; escapes, differing copies and a changing input refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::*;

/// A shared volume as the coordinator sees it, and one copy of it per worker (same
/// bytes, same mtime), each served by a worker with that copy as its root.
struct Volume {
    dir: Dir,
    workers: Vec<Worker>,
}

impl Volume {
    fn new(name: &str, files: &[(&str, &[u8])], workers: usize) -> Volume {
        let dir = Dir::new(name);
        let mut roots = vec![dir.join("shared")];
        roots.extend((0..workers).map(|i| dir.join(&format!("mount{i}"))));
        for root in &roots {
            for (name, data) in files {
                put(&root.join(name), data);
            }
        }
        let workers = roots[1..]
            .iter()
            .map(|root| Worker::start(&["--slots", "1", "--root", root.to_str().unwrap()]))
            .collect();
        Volume { dir, workers }
    }

    fn shared(&self, name: &str) -> PathBuf {
        self.dir.join("shared").join(name)
    }

    fn mount(&self, i: usize, name: &str) -> PathBuf {
        self.dir.join(&format!("mount{i}")).join(name)
    }

    fn pull_args(&self) -> Vec<String> {
        let list: Vec<&Worker> = self.workers.iter().collect();
        vec![
            "--pull".into(),
            "--shared-root".into(),
            self.dir.join("shared").display().to_string(),
            "--workers".into(),
            addrs(&list),
        ]
    }
}

/// Writes a file with a fixed mtime, so every copy of the volume looks the same.
fn put(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    set_mtime(
        path,
        std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn pulled_output_is_byte_identical_to_push_and_the_embedded_pool() {
    let data = mixed(5 << 20, 81);
    let v = Volume::new("pull-same", &[("logs/data.tar", &data)], 2);
    let input = v.shared("logs/data.tar");
    for mode in [
        &["-b", "128K"][..],
        &["-b", "128K", "--engine", "zlib-rs"][..],
    ] {
        let embedded = compress_file(&v.dir, &input, mode);
        let list: Vec<&Worker> = v.workers.iter().collect();
        let pushed = compress_file(
            &v.dir,
            &input,
            &[mode, &["--workers", &addrs(&list)]].concat(),
        );
        let pulled = compress_file(&v.dir, &input, &[mode, &strs(&v.pull_args())].concat());
        assert!(
            pushed == embedded,
            "{mode:?}: push differs from the embedded pool"
        );
        assert!(
            pulled == embedded,
            "{mode:?}: pull differs from the embedded pool"
        );
        assert_decodes(&v.dir.file("pulled.gz", &pulled), &data);
    }
}

#[test]
fn a_symlink_leaving_a_workers_root_is_refused_naming_the_path() {
    let v = Volume::new("pull-escape", &[("ok", b"fine")], 2);
    let secret_data = text(100_000, 82);
    let secret = v.dir.file("secret", &secret_data);
    // Here the name is a plain file; on the workers' mounts, a link out of the root.
    put(&v.shared("link.tar"), &secret_data);
    for i in 0..2 {
        std::os::unix::fs::symlink(&secret, v.mount(i, "link.tar")).unwrap();
    }
    let out = v.dir.join("out.gz");
    let r = run(gzfleet()
        .arg("compress")
        .args(v.pull_args())
        .arg("-o")
        .arg(&out)
        .arg(v.shared("link.tar")));
    assert_fails!(
        r,
        1,
        "link.tar: a symbolic link leads out of this worker's --root"
    );
    assert!(r.stderr.contains("no worker could read it"), "{}", r.stderr);
    assert!(!out.exists(), "output written from outside the root");
    assert!(!v.dir.join("out.gz.gzfleet-partial").exists());
    // A link out of the shared root here is refused before any worker is asked.
    std::os::unix::fs::symlink(&secret, v.shared("out.tar")).unwrap();
    let r = run(gzfleet()
        .arg("compress")
        .args(v.pull_args())
        .arg("-c")
        .arg(v.shared("out.tar")));
    assert_fails!(r, 1, "out.tar: not below the shared root");
}

#[test]
fn a_worker_whose_copy_differs_is_passed_over_and_the_bytes_stay_right() {
    let data = text(3 << 20, 83);
    let v = Volume::new("pull-differs", &[("data", &data)], 2);
    let stats = v.dir.join("stats.json");
    let input = v.shared("data");
    let reference = compress_file(&v.dir, &input, &["-b", "128K"]);
    // The first worker's mount holds another version of the file (a worker sees a
    // version by its size and modification time).
    put(&v.mount(0, "data"), &text((3 << 20) + 1, 84));
    let pulled = compress_file(
        &v.dir,
        &input,
        &[
            &["-b", "128K", "--stats-json", stats.to_str().unwrap()][..],
            &strs(&v.pull_args()),
        ]
        .concat(),
    );
    assert!(pulled == reference, "bytes of two versions were mixed");
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(json_number(&json, "failed_attempts") >= 1, "{json}");
    assert_eq!(worker_chunks(&json, &v.workers[0].addr), 0, "{json}");
}

#[test]
fn copies_that_all_differ_fail_the_input_clearly() {
    let v = Volume::new("pull-all-differ", &[("data", &text(8 << 20, 85))], 2);
    for i in 0..2 {
        put(&v.mount(i, "data"), &text((8 << 20) + 10, 86));
    }
    let stats = v.dir.join("stats.json");
    let other = v.dir.file("shared/other", &text(300_000, 87));
    set_mtime(
        &other,
        std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
    for i in 0..2 {
        put(&v.mount(i, "other"), &text(300_000, 87));
    }
    let r = run(gzfleet()
        .args(["compress", "-b", "128K", "--stats-json"])
        .arg(&stats)
        .args(v.pull_args())
        .arg(v.shared("data"))
        .arg(v.shared("other")));
    assert_fails!(r, 1, "the workers' copies differ from this one");
    // Once lost, the rest of its 64 chunks was neither cut nor sent.
    let json = std::fs::read_to_string(&stats).unwrap();
    let failed = json_number(&json, "failed_attempts");
    assert!(failed < 32, "{failed} attempts failed: {json}");
    assert!(
        r.stderr.contains("data: no worker could read it"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr.lines().count(),
        1,
        "said more than once:\n{}",
        r.stderr
    );
    // The other input of the run completed.
    assert!(tool("gzip", &["-dc"], &v.shared("other.gz")) == text(300_000, 87));
    assert!(!v.shared("data.gz").exists());
}

#[test]
fn an_input_that_changes_mid_job_fails_and_leaves_nothing_complete_looking() {
    // One shared folder for everyone: real shared storage.
    let dir = Dir::new("pull-changes");
    let shared = dir.join("shared");
    let input = shared.join("data");
    // zlib-rs at -9 on 64 MiB: seconds of work on two cores, so the change below
    // lands mid-job even on a loaded machine.
    put(&input, &text(64 << 20, 88));
    let root = shared.to_str().unwrap();
    let ws = [
        Worker::start(&["--slots", "1", "--root", root]),
        Worker::start(&["--slots", "1", "--root", root]),
    ];
    let out = dir.join("out.gz");
    let mut job = gzfleet()
        .args([
            "compress",
            "-9",
            "--engine",
            "zlib-rs",
            "-b",
            "128K",
            "--pull",
            "--shared-root",
            root,
        ])
        .args(["--workers", &addrs(&[&ws[0], &ws[1]]), "-o"])
        .arg(&out)
        .arg(&input)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        job.try_wait().unwrap().is_none(),
        "job ended before the change"
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"more"))
        .unwrap();
    let r = finish(job);
    assert_fails!(r, 1, "the input changed while it was being compressed");
    assert!(!out.exists());
    assert_eq!(dir.names(), ["shared"], "left behind");
}

#[test]
fn pull_needs_workers_a_shared_root_and_inputs_below_it() {
    let v = Volume::new("pull-usage", &[("data", b"x")], 1);
    let outside = v.dir.file("outside", b"y");
    let root = v.dir.join("shared").display().to_string();
    let r = run(gzfleet()
        .args(["compress", "--pull", "--shared-root", &root])
        .arg(v.shared("data")));
    assert_fails!(r, 1, "--pull needs workers");
    // Files need the shared root named (objects do not).
    let r = run(gzfleet()
        .args(["compress", "--pull", "--workers", &v.workers[0].addr])
        .arg(v.shared("data")));
    assert_fails!(r, 1, "--pull reads files below --shared-root DIR");
    let r = run(gzfleet().arg("compress").args(v.pull_args()).arg(&outside));
    assert_fails!(r, 1, "outside: not below the shared root -- ignored");
    // A worker without --root refuses pull requests, and is not used for them.
    let rootless = Worker::start(&[]);
    let r = run(gzfleet()
        .args([
            "compress",
            "--pull",
            "--shared-root",
            &root,
            "--workers",
            &rootless.addr,
        ])
        .arg(v.shared("data")));
    assert_fails!(r, 1, "start it with --root DIR");
}

#[test]
fn verify_in_pull_mode_reads_the_range_here_and_catches_a_liar() {
    let data = text(2 << 20, 89);
    let v = Volume::new("pull-verify", &[("data", &data)], 2);
    let input = v.shared("data");
    let reference = compress_file(&v.dir, &input, &["-b", "128K"]);
    // A third copy, served by a worker that answers the right CRC over wrong bytes.
    put(&v.dir.join("mount-liar").join("data"), &data);
    let liar = Worker::start_faulty(&[
        "--slots",
        "1",
        "--fault-corrupt-deflate-from",
        "1",
        "--root",
        v.dir.join("mount-liar").to_str().unwrap(),
    ]);
    let stats = v.dir.join("stats.json");
    let root = v.dir.join("shared").display().to_string();
    let list = addrs(&[&liar, &v.workers[0], &v.workers[1]]);
    let pulled = compress_file(
        &v.dir,
        &input,
        &[
            "-b",
            "128K",
            "--verify",
            "--pull",
            "--shared-root",
            &root,
            "--workers",
            &list,
            "--stats-json",
            stats.to_str().unwrap(),
        ],
    );
    assert!(pulled == reference, "a corrupt chunk was written");
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(json_number(&json, "wrong_answers") >= 1, "{json}");
    assert_eq!(worker_chunks(&json, &liar.addr), 0, "{json}");
}
