//! A worker's connections, met from outside: idle raw TCP connections past
//! `--max-connections` wait in the backlog and are closed at `--first-request-timeout`
//! without the worker ever holding more than the cap or growing; and a job whose
//! connection a worker closed for idling (its output stalled) reconnects and finishes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::*;

/// The value of the sample named exactly `sample` (labels included).
fn metric(addr: &str, sample: &str) -> Option<u64> {
    sample_value(&scrape(addr)?, sample).map(|v| v as u64)
}

const OPEN: &str = "gzfleet_worker_connections{listener=\"grpc\"}";
const CLOSED_UNUSED: &str =
    "gzfleet_worker_connections_closed_total{listener=\"grpc\",reason=\"first_request\"}";
const CLOSED_IDLE: &str =
    "gzfleet_worker_connections_closed_total{listener=\"grpc\",reason=\"idle\"}";
const WAITED: &str = "gzfleet_worker_connections_waited_total{listener=\"grpc\"}";

/// Sockets the process holds (listeners included).
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
                .filter(|link| link.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or(0)
}

/// One field of /proc/PID/status, in bytes.
fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

/// HTTP/2's client preface and an empty SETTINGS frame: a handshake begun, never a
/// request.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

#[test]
fn idle_connections_past_the_cap_wait_are_closed_at_their_deadline_and_a_job_still_runs() {
    let dir = Dir::new("conns-idle");
    let cap = 16;
    let count = 48;
    let worker = Worker::start(&[
        "--max-connections",
        &cap.to_string(),
        "--first-request-timeout",
        "1s",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let metrics = worker.metrics.clone().expect("a metrics address");
    let pid = worker.child.id();
    let rss_before = proc_status(pid, "VmRSS:").expect("the worker's status");
    let baseline = sockets(pid);

    // Half send nothing, half a preface: each read until the worker closes it. The ones
    // past the cap connect all the same (the kernel's backlog completes handshakes).
    let readers: Vec<_> = (0..count)
        .map(|i| {
            let mut conn = TcpStream::connect(&worker.addr).expect("connecting");
            let opened = Instant::now();
            if i % 2 == 1 {
                conn.write_all(PREFACE).expect("sending the preface");
            }
            conn.set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                // The worker's SETTINGS may come first; then the end (or a reset).
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
                opened.elapsed()
            })
        })
        .collect();

    // Sampled while the worker works through them: never more than the cap open.
    let (mut most_open, mut most_sockets) = (0, 0);
    let started = Instant::now();
    while !readers.iter().all(|r| r.is_finished()) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "idle connections still open after 60 s"
        );
        most_sockets = most_sockets.max(sockets(pid));
        most_open = most_open.max(metric(&metrics, OPEN).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(25));
    }
    let lifetimes: Vec<Duration> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    eprintln!(
        "{count} idle connections closed in {:.1}s; at most {most_open} open, {most_sockets} sockets ({baseline} before)",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(most_open, cap, "the cap was not reached, or passed");
    // The metrics endpoint's own connection and listener count among the baseline's.
    assert!(
        most_sockets <= baseline + cap as usize + 1,
        "{most_sockets} sockets open, {baseline} before, cap {cap}"
    );
    // Nobody is closed before the deadline (counted from its accept, after its connect).
    let shortest = lifetimes.iter().min().unwrap();
    assert!(
        *shortest >= Duration::from_millis(900),
        "a connection was closed after {shortest:?}"
    );
    assert_eq!(metric(&metrics, CLOSED_UNUSED), Some(count));
    assert!(metric(&metrics, WAITED).unwrap() >= 1);
    assert_eq!(metric(&metrics, OPEN), Some(0));
    let peak = proc_status(pid, "VmHWM:").expect("the worker survived");
    assert!(
        peak < rss_before + (32 << 20),
        "the worker grew from {} to {} MiB",
        rss_before >> 20,
        peak >> 20
    );

    // The worker still serves: the same bytes as the embedded pool.
    let input = dir.file("data", &text(3 << 20, 5));
    let local = compress_file(&dir, &input, &["-b", "256K"]);
    let remote = compress_file(&dir, &input, &["-b", "256K", "--workers", &worker.addr]);
    assert!(
        local == remote,
        "the cluster's output differs from the pool's"
    );
}

#[test]
fn a_job_whose_idle_connection_the_worker_closed_reconnects_and_finishes() {
    let dir = Dir::new("conns-stall");
    let worker = Worker::start(&[
        "--slots",
        "1",
        "--queue",
        "1",
        "--idle-timeout",
        "1s",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let metrics = worker.metrics.clone().expect("a metrics address");
    // Incompressible, so the output outgrows the pipe and the coordinator's window:
    // while this test does not read, the coordinator can send nothing.
    let input = dir.file("data", &random(24 << 20, 9));
    let args = ["compress", "-c", "-1", "-b", "1M"];
    let local = run(gzfleet().args(args).arg(&input));
    assert_ok!(local);

    let mut job = gzfleet()
        .args(args)
        .args(["--workers", &worker.addr])
        .arg(&input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting gzfleet");
    let mut stdout = job.stdout.take().unwrap();
    let mut out = vec![0; 1 << 20];
    stdout.read_exact(&mut out).expect("the job's first MiB");
    // Stalled on its output, the job makes no request: the worker closes its
    // connection once idle (1 s, and a second of grace for its pings).
    let stalled = Instant::now();
    while metric(&metrics, CLOSED_IDLE) != Some(1) {
        assert!(
            stalled.elapsed() < Duration::from_secs(20),
            "the idle connection was not closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Chunks were left for after the stall: they went on a new connection.
    let chunks = metric(&metrics, "gzfleet_worker_chunks_total").unwrap();
    assert!(
        chunks < 24,
        "all {chunks} chunks were sent before the stall"
    );
    eprintln!("stalled after {chunks} of 24 chunks");
    stdout
        .read_to_end(&mut out)
        .expect("the rest of the output");
    let done = job.wait_with_output().expect("the job");
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "the job failed: {stderr}");
    assert!(out == local.stdout, "the output differs from the pool's");
    // It came back on a new connection, and no other was closed under it.
    assert_eq!(metric(&metrics, CLOSED_IDLE), Some(1));
    assert_eq!(metric(&metrics, CLOSED_UNUSED), Some(0));
}
