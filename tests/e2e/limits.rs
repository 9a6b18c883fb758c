//! The worker's limits, met from outside by an independent client
//! (`tests/python/limits_client.py`: grpcio, and raw HTTP/2 through the h2 package):
//! each refusal with its status and a message naming the limit, and a flood of big
//! requests that leaves the worker's memory within what its limits allow.

use std::process::Stdio;
use std::time::Duration;

use crate::util::*;

/// Runs one mode of the limits client and returns what it printed, failing the test
/// with its output if it failed.
fn limits_client(dir: &Dir, args: &[&str]) -> String {
    let stubs = python_stubs(dir);
    let r = run(python_client("limits_client.py", &stubs).args(args));
    let said = String::from_utf8_lossy(&r.stdout).into_owned();
    assert!(
        r.status.success(),
        "limits_client.py {args:?} failed:\n{said}\n{}",
        r.stderr
    );
    said
}

fn assert_said(said: &str, lines: &[&str]) {
    for line in lines {
        assert!(said.contains(line), "missing {line:?} in:\n{said}");
    }
}

#[test]
fn each_limit_of_a_request_is_refused_with_its_status_and_named() {
    let dir = Dir::new("limits-refusals");
    // The smallest --max-chunk, so the oversized messages stay small.
    let worker = Worker::start(&["--max-chunk", "128K"]);
    let said = limits_client(&dir, &["refusals", &worker.addr, "131072"]);
    assert_said(
        &said,
        &[
            "accepted at the limit: level 9, dictionary of 32768 bytes, job id of 256 bytes, chunk of --max-chunk",
            "refused: level: INVALID_ARGUMENT: compression level 10 is out of range 0-9",
            "refused: dictionary: INVALID_ARGUMENT: dictionary of 32769 bytes exceeds the limit of 32768 bytes",
            "refused: chunk: INVALID_ARGUMENT: chunk of 131073 bytes exceeds this worker's limit of 131072 bytes",
            "refused: job id: INVALID_ARGUMENT: job id of 257 bytes exceeds the limit of 256 bytes",
            "refused: path: INVALID_ARGUMENT: path of 4097 bytes exceeds the limit of 4096 bytes",
            "refused: etag: INVALID_ARGUMENT: etag of 1025 bytes exceeds the limit of 1024 bytes",
            "refused: message: INVALID_ARGUMENT: request message of 167943 bytes exceeds this worker's limit of 167936 bytes",
            "refused: Info message: INVALID_ARGUMENT: request message of 5000 bytes exceeds the limit of 4096 bytes",
            "accepted: an empty Info request",
        ],
    );
}

#[test]
fn a_full_worker_refuses_at_once_without_reading_the_body() {
    let dir = Dir::new("limits-full");
    let worker = Worker::start(&["--slots", "1", "--queue", "1"]);
    let said = limits_client(&dir, &["full", &worker.addr, "2"]);
    assert_said(
        &said,
        &[
            "holding: 2 requests admitted, their bodies unfinished",
            "refused: request to a full worker: RESOURCE_EXHAUSTED (trailers-only): worker is full: it takes at most 2 requests at once (1 slots + 1 queued",
            "refused: request without a body to a full worker: RESOURCE_EXHAUSTED (trailers-only)",
            "served after the holders left",
        ],
    );
}

#[test]
fn a_connection_opens_no_more_streams_than_the_worker_admits_and_probes() {
    let dir = Dir::new("limits-streams");
    let worker = Worker::start(&["--slots", "1", "--queue", "2"]);
    // 3 admitted + 8 for health checks, Info and refusals.
    let said = limits_client(&dir, &["streams", &worker.addr, "11"]);
    assert_said(
        &said,
        &[
            "advertised: at most 11 streams per connection",
            "refused: stream 12 on one connection: REFUSED_STREAM",
            "served on the same connection after the streams closed",
        ],
    );
}

/// One field of /proc/PID/status, in bytes; None once the process is gone.
fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

const MIB: u64 = 1 << 20;

#[test]
fn a_flood_of_big_requests_leaves_the_workers_memory_bounded() {
    let dir = Dir::new("limits-flood");
    let stubs = python_stubs(&dir);
    // Two permits, and the default --max-chunk of 64 MiB.
    let mut worker = Worker::start(&["--slots", "1", "--queue", "1"]);
    let pid = worker.child.id();
    let idle = proc_status(pid, "VmRSS:").expect("the worker's status");
    // What the limits admit: (slots + queue) x the largest chunk.
    let bound = 2 * 64 * MIB;
    // Above it: the process itself (5 MiB idle), and what refused requests' bodies put
    // in HTTP/2 buffers before they are refused, up to a stream window (8 MiB) each,
    // freed at once but kept by malloc for reuse (see src/lib.rs). Measured peaks on a
    // 2-core machine: 90-150 MiB with the gate, 3.0-3.7 GiB without it.
    let headroom = 64 * MIB;
    // Beyond this the worker is killed: a worker letting the flood in would otherwise
    // take 5 GB of the machine's memory before failing the test.
    let safety = 1 << 30;

    let mut client = python_client("limits_client.py", &stubs)
        .args(["flood", &worker.addr, "100", &(48 * MIB).to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the flood");
    let mut killed_at = None;
    while client.try_wait().expect("the flood client").is_none() {
        if killed_at.is_none()
            && let Some(rss) = proc_status(pid, "VmRSS:")
            && rss > safety
        {
            killed_at = Some(rss);
            worker.kill();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = client.wait_with_output().expect("the flood client");
    let said = String::from_utf8_lossy(&out.stdout);
    if let Some(rss) = killed_at {
        panic!(
            "the worker's memory passed {} MiB during the flood (killed at {} MiB); admitted at most {} MiB:\n{said}",
            safety / MIB,
            rss / MIB,
            bound / MIB
        );
    }
    // The kernel's own high-water mark: no peak between two samples is missed.
    let peak = proc_status(pid, "VmHWM:").expect("the worker survived the flood");
    eprintln!(
        "flood: worker resident {} MiB idle, {} MiB at its peak",
        idle / MIB,
        peak / MIB
    );
    assert!(
        peak < bound + headroom,
        "the worker's resident memory peaked at {} MiB; its limits admit {} MiB (+ {} MiB headroom)",
        peak / MIB,
        bound / MIB,
        headroom / MIB
    );
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !said.contains("wrongly") && !said.contains("error") && !said.contains("reset"),
        "{said}"
    );
    assert!(
        said.contains(" answered\n"),
        "no request got through:\n{said}"
    );
    assert!(
        said.contains(" status 8\n"),
        "no request was refused:\n{said}"
    );

    // And it still serves, correctly.
    let input = dir.file("data", &mixed(3 << 20, 7));
    let local = compress_file(&dir, &input, &["-b", "1M"]);
    let remote = compress_file(&dir, &input, &["-b", "1M", "--workers", &worker.addr]);
    assert!(
        remote == local,
        "the worker's output changed after the flood"
    );
}
