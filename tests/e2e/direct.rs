//! Direct output (`--pull --direct-output`): real workers started with `--root` and
//! `--write-root` on one shared folder compress segments and write them into the
//! output themselves. The bytes are the embedded pool's for every size and worker
//! count, through a worker killed mid-job and a coordinator killed and resumed; the
//! coordinator receives a few KiB per segment. Kept small for CI: 128 KiB chunks and
//! segments of 512 KiB to 1 MiB (`--segment-size`), inputs of a few MiB.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::util::*;

const BLOCK: [&str; 2] = ["-b", "128K"];

/// A shared folder, as the coordinator and (in this test, the same path) its workers
/// see it.
struct Shared {
    dir: Dir,
    workers: Vec<Worker>,
}

impl Shared {
    fn new(name: &str, workers: usize) -> Shared {
        let dir = Dir::new(name);
        std::fs::create_dir_all(dir.join("shared")).unwrap();
        let workers = (0..workers).map(|_| writer(&dir, &[])).collect();
        Shared { dir, workers }
    }

    fn root(&self) -> PathBuf {
        self.dir.join("shared")
    }

    fn input(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.root().join(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    fn args(&self, workers: &[&Worker], segment: &str) -> Vec<String> {
        let root = self.root().display().to_string();
        let list = addrs(workers);
        let mut args: Vec<String> = BLOCK.iter().map(|s| s.to_string()).collect();
        args.extend(["--pull", "--direct-output", "--shared-root", &root].map(String::from));
        args.extend(["--segment-size", segment, "--workers", &list].map(String::from));
        args
    }
}

/// A worker reading and writing below the shared folder.
fn writer(dir: &Dir, extra: &[&str]) -> Worker {
    let root = dir.join("shared").display().to_string();
    let mut args = vec!["--slots", "1", "--root", &root, "--write-root", &root];
    args.extend(extra);
    Worker::start(&args)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Compresses `input` directly into `out` (below the shared root); returns the run.
fn direct(input: &PathBuf, out: &PathBuf, args: &[String], extra: &[&str]) -> Run {
    run(gzfleet()
        .arg("compress")
        .args(args)
        .args(extra)
        .arg("-o")
        .arg(out)
        .arg(input))
}

#[test]
fn direct_output_is_the_embedded_pools_bytes_for_every_size_and_worker_count() {
    let s = Shared::new("direct-same", 3);
    // Segments of 512 KiB (4 chunks): sizes at and around their boundaries.
    let seg = 512 << 10;
    let sizes = [
        0,
        1000,
        128 << 10,
        seg - 1,
        seg,
        seg + 1,
        3 * seg + (200 << 10),
    ];
    for (n, &size) in sizes.iter().enumerate() {
        let data = mixed(size, n as u64);
        let input = s.input(&format!("in{n}"), &data);
        let embedded = compress_file(&s.dir, &input, &BLOCK);
        for workers in 1..=3 {
            let list: Vec<&Worker> = s.workers[..workers].iter().collect();
            let out = s.root().join(format!("out{n}-{workers}.gz"));
            let r = direct(&input, &out, &s.args(&list, "512K"), &[]);
            assert_ok!(r);
            assert!(
                std::fs::read(&out).unwrap() == embedded,
                "{size} bytes on {workers} workers: not the embedded pool's bytes"
            );
            assert!(
                !s.root()
                    .join(format!("out{n}-{workers}.gz.gzfleet-partial"))
                    .exists()
            );
        }
    }
    // With an index and with -i, at one size: the same .gz and the same index.
    let data = mixed(3 << 20, 99);
    let input = s.input("indexed", &data);
    let all: Vec<&Worker> = s.workers.iter().collect();
    for mode in [&["--index", "--index-span", "256K"][..], &["-i"][..]] {
        let local = s.dir.join("local.gz");
        let mut args = BLOCK.to_vec();
        args.extend(mode);
        assert_ok!(run(gzfleet()
            .arg("compress")
            .args(&args)
            .arg("-o")
            .arg(&local)
            .arg(&input)));
        let out = s.root().join("indexed.gz");
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(s.root().join("indexed.gzi"));
        assert_ok!(direct(&input, &out, &s.args(&all, "512K"), mode));
        assert!(
            std::fs::read(&out).unwrap() == std::fs::read(&local).unwrap(),
            "{mode:?}"
        );
        if mode[0] == "--index" {
            let (ours, theirs) = (s.root().join("indexed.gzi"), s.dir.join("local.gzi"));
            assert!(std::fs::read(ours).unwrap() == std::fs::read(theirs).unwrap());
        }
        assert_decodes(&out, &data);
        let _ = std::fs::remove_file(&local);
        let _ = std::fs::remove_file(s.dir.join("local.gzi"));
    }
}

#[test]
fn the_coordinator_receives_a_few_kib_per_segment_not_the_compressed_bytes() {
    let s = Shared::new("direct-traffic", 2);
    // Random data: the compressed bytes are as large as the input.
    let data = random(16 << 20, 5);
    let input = s.input("noise", &data);
    let out = s.root().join("noise.gz");
    let stats = s.dir.join("stats.json");
    let all: Vec<&Worker> = s.workers.iter().collect();
    let mut args = s.args(&all, "4M");
    args.extend(["--stats-json".into(), stats.display().to_string()]);
    assert_ok!(direct(&input, &out, &args, &[]));
    assert_decodes(&out, &data);
    let json = std::fs::read_to_string(&stats).unwrap();
    let received = json_number(&json, "received_bytes");
    // 4 segments, at most two 4 KiB fragments each: a few MiB per GiB at most.
    let per_gib = received * 64;
    assert!(received > 0, "{json}");
    assert!(
        per_gib <= 4 << 20,
        "{received} bytes received for 16 MiB: {json}"
    );
    // Pull mode without direct output receives every compressed byte.
    let pulled = s.dir.join("pulled.gz");
    let pull_stats = s.dir.join("pull-stats.json");
    let root = s.root().display().to_string();
    let r = run(gzfleet()
        .arg("compress")
        .args(BLOCK)
        .args(["--pull", "--shared-root", &root, "--workers", &addrs(&all)])
        .arg("--stats-json")
        .arg(&pull_stats)
        .arg("-o")
        .arg(&pulled)
        .arg(&input));
    assert_ok!(r);
    let pulled_json = std::fs::read_to_string(&pull_stats).unwrap();
    assert!(json_number(&pulled_json, "received_bytes") >= 16 << 20);
}

#[test]
fn a_worker_killed_mid_segment_or_holding_one() {
    let s = Shared::new("direct-kill", 1);
    let data = text(12 << 20, 12);
    let input = s.input("data", &data);
    let embedded = compress_file(&s.dir, &input, &["-9", "-b", "128K"]);
    let root = s.root().display().to_string();
    let mut victim = Worker::start_faulty(&[
        "--slots",
        "1",
        "--root",
        &root,
        "--write-root",
        &root,
        "--metrics",
        "127.0.0.1:0",
    ]);
    let out = s.root().join("data.gz");
    let stats = s.dir.join("stats.json");
    let list = [&s.workers[0], &victim];
    let mut args = s.args(&list, "1M");
    args.push("-9".into());
    let mut job = start_job(&input, &out, &stats, &strs(&args));
    // Killed once it has compressed two chunks and holds another: inside a segment.
    wait_until_busy(&victim, 2.0);
    assert!(
        job.try_wait().unwrap().is_none(),
        "job ended before the kill"
    );
    victim.kill();
    let r = finish(job);
    assert_ok!(r);
    assert!(
        std::fs::read(&out).unwrap() == embedded,
        "output differs after a kill"
    );
    tool("gzip", &["-t"], &out);
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(
        json_number(&json, "failed_attempts") + json_number(&json, "segments_rewritten") >= 1,
        "the kill went unnoticed: {json}"
    );
}

#[test]
fn a_held_segment_whose_worker_dies_is_compressed_and_written_again() {
    // The fast worker races ahead and holds segments while the slow one holds the
    // head of the line; killed then, what it held is compressed again elsewhere.
    let s = Shared::new("direct-held", 0);
    let data = mixed(8 << 20, 21);
    let input = s.input("data", &data);
    let embedded = compress_file(&s.dir, &input, &BLOCK);
    let root = s.root().display().to_string();
    let common = ["--slots", "1", "--root", &root, "--write-root", &root];
    let slow = Worker::start_faulty(&[&common[..], &["--fault-slow", "30"]].concat());
    let mut fast = Worker::start(&[&common[..], &["--metrics", "127.0.0.1:0"]].concat());
    let out = s.root().join("data.gz");
    let stats = s.dir.join("stats.json");
    let args = s.args(&[&slow, &fast], "512K");
    let job = start_job(&input, &out, &stats, &strs(&args));
    // Two segments done and nothing in flight: it holds what it compressed.
    let holding =
        |m: &str| sample_value(m, "gzfleet_worker_chunks_total").is_some_and(|n| n >= 8.0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !scrape(fast.metrics.as_ref().unwrap()).is_some_and(|m| holding(&m)) {
        assert!(
            Instant::now() < deadline,
            "the fast worker never got to work"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    fast.kill();
    let r = finish(job);
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == embedded, "output differs");
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(json_number(&json, "segments_rewritten") >= 1, "{json}");
}

#[test]
fn the_coordinator_killed_then_resumed_gives_the_same_bytes() {
    let s = Shared::new("direct-resume", 0);
    let data = text(6 << 20, 31);
    let input = s.input("data", &data);
    let embedded = compress_file(&s.dir, &input, &["-9", "-b", "128K"]);
    let root = s.root().display().to_string();
    let worker = Worker::start_faulty(&[
        "--slots",
        "1",
        "--root",
        &root,
        "--write-root",
        &root,
        "--fault-slow",
        "3",
    ]);
    let out = s.root().join("data.gz");
    let mut args = s.args(&[&worker], "512K");
    args.extend(["-9", "--sync-interval", "10ms"].map(String::from));
    let journal = s.root().join("data.gz.gzfleet-journal");
    let mut job = gzfleet()
        .arg("compress")
        .args(&args)
        .arg("-o")
        .arg(&out)
        .arg(&input)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the journal records a durable segment.
    let deadline = Instant::now() + Duration::from_secs(60);
    let durable = |j: String| {
        let j: serde_json::Value = serde_json::from_str(&j).unwrap_or_default();
        j["journal"]["durable"]["chunks"].as_u64().unwrap_or(0)
    };
    while !std::fs::read_to_string(&journal).is_ok_and(|j| durable(j) >= 4) {
        assert!(Instant::now() < deadline, "nothing became durable");
        assert!(
            job.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    job.kill().unwrap();
    job.wait().unwrap();
    assert!(!out.exists(), "a killed run left a complete-looking output");
    let stats = s.dir.join("stats.json");
    let r = direct(
        &input,
        &out,
        &args,
        &["--resume", "--stats-json", stats.to_str().unwrap()],
    );
    assert_ok!(r);
    assert!(
        std::fs::read(&out).unwrap() == embedded,
        "resumed output differs"
    );
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(json_number(&json, "resumed_chunks") >= 4, "{json}");
}

#[test]
fn workers_that_may_not_write_are_excluded_naming_the_flag() {
    let s = Shared::new("direct-excluded", 1);
    let input = s.input("data", &mixed(1 << 20, 3));
    let root = s.root().display().to_string();
    let reader = Worker::start(&["--slots", "1", "--root", &root]);
    let out = s.root().join("data.gz");
    // Alone, it cannot do the job.
    let r = direct(&input, &out, &s.args(&[&reader], "512K"), &[]);
    assert_fails!(r, 1, "start it with --write-root DIR");
    assert!(!out.exists());
    // Beside one that may write, it is left out and the job is done.
    let r = direct(
        &input,
        &out,
        &s.args(&[&reader, &s.workers[0]], "512K"),
        &[],
    );
    assert_ok!(r);
    assert!(
        r.stderr
            .contains(&format!("worker {}: excluded", reader.addr)),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--write-root"), "{}", r.stderr);
    // Without --pull, a one-line error.
    let r = run(gzfleet()
        .args(["compress", "--direct-output", "-o"])
        .arg(&out)
        .arg(&input));
    assert_fails!(r, 1, "--direct-output needs --pull");
}

#[test]
fn outputs_outside_the_write_root_are_refused() {
    let s = Shared::new("direct-escape", 0);
    let input = s.input("data", &mixed(1 << 20, 4));
    let all_args = |w: &[&Worker]| s.args(w, "512K");
    // The coordinator refuses an output not below --shared-root.
    let root = s.root().display().to_string();
    let ok = Worker::start(&["--slots", "1", "--root", &root, "--write-root", &root]);
    let outside = s.dir.join("outside.gz");
    let r = direct(&input, &outside, &all_args(&[&ok]), &[]);
    assert_fails!(r, 1, "not below the shared root");
    // A worker whose mount has the output folder as a link leading out of its
    // --write-root writes nothing there.
    let mount = s.dir.join("mount");
    std::fs::create_dir_all(&mount).unwrap();
    std::fs::hard_link(&input, mount.join("data")).unwrap();
    let elsewhere = s.dir.join("elsewhere");
    std::fs::create_dir_all(elsewhere.join("out")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("out"), mount.join("out")).unwrap();
    let victim_file = elsewhere.join("out/data.gz.gzfleet-partial");
    std::fs::write(&victim_file, b"keep me").unwrap();
    std::fs::create_dir_all(s.root().join("out")).unwrap();
    let m = mount.display().to_string();
    let linked = Worker::start(&["--slots", "1", "--root", &m, "--write-root", &m]);
    let out = s.root().join("out/data.gz");
    let r = direct(&input, &out, &all_args(&[&linked]), &[]);
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("leads out of this worker's --root (--write-root)"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(&victim_file).unwrap(), b"keep me");
    assert!(!out.exists());
}
