//! Cluster mode: real gzfleet-worker processes on loopback ports, real gRPC, the same
//! bytes as the embedded pool.

use std::process::Command;
use std::time::Duration;

use crate::util::*;

fn with_workers(args: &[&str], workers: &[&Worker]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    v.push("--workers".into());
    v.push(addrs(workers));
    v
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn same_bytes_as_the_embedded_pool_with_one_two_and_three_workers() {
    let dir = Dir::new("cluster-same");
    let data = mixed(4 << 20, 21);
    let input = dir.file("data", &data);
    let (w1, w2, w3) = (
        Worker::start(&["--slots", "1"]),
        Worker::start(&["--slots", "2"]),
        Worker::start(&["--slots", "1"]),
    );
    let fleets: [&[&Worker]; 3] = [&[&w1], &[&w1, &w2], &[&w1, &w2, &w3]];
    for mode in [
        &["-b", "128K"][..],
        &["-b", "128K", "--engine", "zlib-rs"][..],
    ] {
        let reference = compress_file(&dir, &input, mode);
        assert_decodes(&dir.file("ref.gz", &reference), &data);
        let nameless = compress_file(&dir, &input, &[mode, &["-n"]].concat());
        for fleet in fleets {
            let args = with_workers(mode, fleet);
            let remote = compress_file(&dir, &input, &strs(&args));
            assert!(
                remote == reference,
                "{} workers, {mode:?}: bytes differ",
                fleet.len()
            );
            let piped = run_with(gzfleet().arg("compress").args(&args), Some(&data));
            assert_ok!(piped);
            assert!(
                piped.stdout == nameless,
                "stdin through {} workers differs",
                fleet.len()
            );
        }
    }
}

#[test]
fn workers_with_different_slot_counts_both_get_work() {
    let dir = Dir::new("cluster-slots");
    let data = mixed(8 << 20, 22);
    let input = dir.file("data", &data);
    let (small, big) = (
        Worker::start(&["--slots", "1"]),
        Worker::start(&["--slots", "3"]),
    );
    let r = run(gzfleet()
        .args(["compress", "-v", "-b", "128K", "-o"])
        .arg(dir.join("out.gz"))
        .args(["--workers", &addrs(&[&small, &big])])
        .arg(&input));
    assert_ok!(r);
    let share = |w: &Worker, slots: usize| -> u64 {
        let line = r
            .stderr
            .lines()
            .find(|l| l.contains(&format!("worker {} ({slots} slots)", w.addr)))
            .unwrap_or_else(|| panic!("no summary line for {}:\n{}", w.addr, r.stderr));
        line.split(": ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (a, b) = (share(&small, 1), share(&big, 3));
    assert!(a > 0 && b > 0, "shares {a} and {b}");
    assert_eq!(a + b, 64, "every chunk counted once");
    assert_decodes(&dir.join("out.gz"), &data);
}

#[test]
fn sixteen_mib_chunks_pass_the_raised_message_limits() {
    let dir = Dir::new("cluster-16m");
    let data = [random(20 << 20, 23), text(14 << 20, 24)].concat();
    let input = dir.file("data", &data);
    let w = Worker::start(&["--slots", "2"]);
    let reference = compress_file(&dir, &input, &["-b", "16M", "-1"]);
    let remote = compress_file(&dir, &input, &["-b", "16M", "-1", "--workers", &w.addr]);
    assert!(remote == reference);
    assert_decodes(&dir.file("out.gz", &remote), &data);
}

#[test]
fn chunks_over_a_workers_limit_are_refused_clearly() {
    let dir = Dir::new("cluster-limit");
    let input = dir.file("data", &text(5 << 20, 25));
    let w = Worker::start(&["--max-chunk", "1M"]);
    let r = run(gzfleet()
        .args(["compress", "-b", "4M", "--workers", &w.addr])
        .arg(&input));
    assert_fails!(
        r,
        1,
        "accepts chunks up to 1 MiB, smaller than the block size 4 MiB"
    );
    assert!(r.stderr.contains(&w.addr));
    assert_eq!(dir.names(), ["data"]);
}

#[test]
fn a_wrong_crc_fails_the_chunk_instead_of_being_written() {
    let dir = Dir::new("cluster-crc");
    let input = dir.file("data", &text(1 << 20, 26));
    let liar = Worker::start_faulty(&["--fault-wrong-crc-from", "1"]);
    let r = run(gzfleet()
        .args([
            "compress",
            "-b",
            "128K",
            "--max-attempts",
            "2",
            "--workers",
            &liar.addr,
        ])
        .arg(&input));
    assert_fails!(r, 1, "failed 2 times (--max-attempts)");
    assert!(r.stderr.contains("wrong answer: CRC-32"), "{}", r.stderr);
    // No chunk was accepted, so there is nothing to resume either.
    assert_eq!(dir.names(), ["data"], "output written despite wrong CRCs");
}

#[test]
fn health_check_answers_serving_and_sigterm_exits_cleanly() {
    let mut w = Worker::start(&[]);
    let check = |addr: &str| run(Command::new(bin("gzfleet-worker")).args(["--check", addr]));
    let r = check(&w.addr);
    assert_ok!(r);
    assert_eq!(
        String::from_utf8_lossy(&r.stdout).trim(),
        format!("{}: SERVING", w.addr)
    );
    w.signal(libc::SIGTERM);
    let status = w
        .wait_exit(Duration::from_secs(10))
        .expect("worker ignored SIGTERM");
    assert!(status.success(), "SIGTERM exit: {status:?}");
    let gone = check(&w.addr);
    assert_eq!(gone.status.code(), Some(1));
}

#[test]
fn sigterm_lets_a_worker_finish_the_chunks_in_hand() {
    let dir = Dir::new("cluster-drain");
    let data = text(6 << 20, 27);
    let input = dir.file("data", &data);
    let reference = compress_file(&dir, &input, &["-b", "128K"]);
    // Alone and slow: it always holds a chunk being compressed and one queued.
    let mut slow = Worker::start_faulty(&["--slots", "1", "--fault-slow", "30"]);
    let port = slow.port();
    let out = dir.join("out.gz");
    let mut job = gzfleet()
        .args([
            "compress",
            "-b",
            "128K",
            "--wait-workers",
            "30s",
            "--workers",
            &slow.addr,
            "-o",
        ])
        .arg(&out)
        .arg(&input)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    slow.signal(libc::SIGTERM);
    let status = slow
        .wait_exit(Duration::from_secs(20))
        .expect("worker did not drain and exit");
    assert!(status.success(), "drained worker exit: {status:?}");
    let log = slow.stderr_text();
    let draining: usize = log
        .split("draining ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no drain report:\n{log}"));
    assert!(draining >= 1, "nothing was in flight at SIGTERM:\n{log}");
    assert!(log.contains("drained; exiting"), "{log}");
    // The job waits for a worker; one comes back on the same address.
    let _back = Worker::start_bin("gzfleet-worker", &format!("127.0.0.1:{port}"), &[]);
    assert!(job.wait().unwrap().success());
    assert!(std::fs::read(&out).unwrap() == reference);
}

#[test]
fn no_reachable_worker_is_a_clear_error_and_leaves_nothing() {
    let dir = Dir::new("cluster-none");
    let input = dir.file("data", b"some data");
    let (p1, p2) = (free_port(), free_port());
    let list = format!("127.0.0.1:{p1},127.0.0.1:{p2}");
    let r = run(gzfleet().args(["compress", "--workers", &list]).arg(&input));
    assert_fails!(r, 1, "no worker reachable");
    assert!(
        r.stderr.contains(&format!("127.0.0.1:{p1} ("))
            && r.stderr.contains(&format!("127.0.0.1:{p2} ("))
    );
    assert!(r.stderr.contains("Connection refused"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1);
    assert_eq!(dir.names(), ["data"]);
}

#[test]
fn workers_from_a_file_the_environment_and_dns() {
    let dir = Dir::new("cluster-discovery");
    let data = mixed(2 << 20, 28);
    let input = dir.file("data", &data);
    let reference = compress_file(&dir, &input, &["-b", "128K"]);
    let (w1, w2) = (Worker::start(&[]), Worker::start(&[]));
    let list = dir.file(
        "workers",
        format!("# fleet\n{}\n\n{}  # second\n", w1.addr, w2.addr).as_bytes(),
    );
    let from_file = compress_file(
        &dir,
        &input,
        &["-b", "128K", "--workers-file", list.to_str().unwrap()],
    );
    assert!(from_file == reference, "--workers-file");
    let r = run(gzfleet()
        .env("GZFLEET_WORKERS", addrs(&[&w1, &w2]))
        .args(["compress", "-b", "128K", "-v", "-c"])
        .arg(&input));
    assert_ok!(r);
    assert!(r.stdout == reference, "GZFLEET_WORKERS");
    assert!(r.stderr.contains(&format!("worker {} (", w2.addr)));
    // localhost may also resolve to ::1, where nobody listens: that address is just down.
    let dns = format!("dns:localhost:{}", w1.port());
    let by_name = compress_file(&dir, &input, &["-b", "128K", "--workers", &dns]);
    assert!(by_name == reference, "dns:");
}
