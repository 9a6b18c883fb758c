//! Metrics and logs as an operator sees them: the worker's and the coordinator's
//! `/metrics` read over plain HTTP during and after a real job, parsed by the
//! Prometheus project's own Python parsers, and `--log-format json` lines read back,
//! with a token that must show up in none of them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// Scrapes `addr` until `sample` satisfies `ok`, for at most `secs`; returns its value.
fn wait_for(addr: &str, sample: &str, secs: u64, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = scrape(addr).and_then(|t| sample_value(&t, sample));
        match v {
            Some(v) if ok(v) => return v,
            _ if Instant::now() > deadline => panic!("{sample} at {addr}: {v:?} after {secs}s"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// A `gzfleet compress` running in the background.
struct Job {
    child: Child,
    /// Where its `--metrics` endpoint listens.
    metrics: String,
    stderr: std::thread::JoinHandle<String>,
}

/// `gzfleet compress` of `input` to `out` in the background, with `--metrics` on a
/// port of its choosing and `--log-format json`, stderr captured.
///
/// The port is chosen by the coordinator (`127.0.0.1:0`) rather than by the test
/// (`free_port()`, which another process may take before gzfleet binds it), and read
/// back from its JSON "job started" log line: the coordinator's stdout may be the
/// compressed data (`-c`), so it says nothing there, and its log line already carries
/// the bound address.
fn start(
    input: &std::path::Path,
    out: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Job {
    let mut child = gzfleet()
        .arg("compress")
        .args(["--metrics", "127.0.0.1:0", "--log-format", "json"])
        .args(args)
        .arg("-o")
        .arg(out)
        .arg(input)
        // Info lines (the start line among them) whatever RUST_LOG the tests run with,
        // unless a test sets its own.
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting gzfleet");
    let stderr = child.stderr.take().expect("gzfleet stderr");
    let (found, metrics) = std::sync::mpsc::channel();
    let stderr = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let parsed = serde_json::from_str::<serde_json::Value>(&line).ok();
            if let Some(l) = parsed.filter(|l| l["message"] == "job started") {
                let _ = found.send(l["metrics"].as_str().unwrap_or_default().to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let metrics = metrics
        .recv_timeout(Duration::from_secs(60))
        .expect("no \"job started\" line with the metrics address");
    Job {
        child,
        metrics,
        stderr,
    }
}

/// Ends a lingering coordinator (SIGTERM) and returns how it went.
fn stop(mut job: Job) -> Run {
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(job.child.id() as i32, libc::SIGTERM) };
    let status = job.child.wait().expect("waiting for gzfleet");
    Run {
        status,
        stdout: Vec::new(),
        stderr: job.stderr.join().unwrap_or_default(),
    }
}

const BLOCK: usize = 128 << 10;

#[test]
fn chunk_counters_grow_during_a_job_and_end_at_its_chunk_count() {
    let dir = Dir::new("metrics-grow");
    let data = text(40 * BLOCK + 1000, 91);
    let chunks = data.len().div_ceil(BLOCK) as f64;
    let input = dir.file("in.txt", &data);
    let out = dir.join("in.txt.gz");
    // One slot, each chunk made to take 40 times as long: a job of a few seconds.
    let worker = Worker::start_faulty(&[
        "--slots",
        "1",
        "--fault-slow",
        "40",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let worker_metrics = worker.metrics.clone().expect("a metrics address");
    let job = start(
        &input,
        &out,
        &[
            "-b",
            "128K",
            "--workers",
            &worker.addr,
            "--metrics-linger",
            "60s",
        ],
        &[],
    );
    let metrics = job.metrics.clone();

    for (addr, sample) in [
        (&worker_metrics, "gzfleet_worker_chunks_total"),
        (&metrics, "gzfleet_chunks_done_total"),
    ] {
        let first = wait_for(addr, sample, 30, |v| v > 0.0);
        assert!(
            first < chunks,
            "{sample} at {addr}: the job was over at the first scrape"
        );
        let second = wait_for(addr, sample, 30, |v| v > first);
        assert!(second <= chunks, "{sample}: {second} of {chunks}");
    }

    // Over, and lingering: the final numbers are still served.
    wait_for(&metrics, "gzfleet_run_finished", 60, |v| v == 1.0);
    let coordinator = scrape(&metrics).expect("served while lingering");
    let served = scrape(&worker_metrics).expect("the worker serves");
    assert_eq!(
        sample_value(&served, "gzfleet_worker_chunks_total"),
        Some(chunks),
        "{served}"
    );
    assert_eq!(
        sample_value(&coordinator, "gzfleet_chunks_done_total"),
        Some(chunks),
        "{coordinator}"
    );
    assert_eq!(
        sample_value(&coordinator, "gzfleet_chunks_planned"),
        Some(chunks),
        "{coordinator}"
    );
    assert_eq!(
        sample_value(&coordinator, "gzfleet_input_bytes_total"),
        Some(data.len() as f64)
    );
    let per_worker = format!("gzfleet_fleet_chunks_total{{worker=\"{}\"}}", worker.addr);
    assert_eq!(
        sample_value(&coordinator, &per_worker),
        Some(chunks),
        "{coordinator}"
    );
    assert_eq!(
        sample_value(&coordinator, "gzfleet_workers_up"),
        Some(1.0),
        "{coordinator}"
    );
    assert_eq!(
        sample_value(&served, "gzfleet_worker_in_flight"),
        Some(0.0),
        "{served}"
    );

    // A SIGTERM cuts the lingering short; the job itself succeeded.
    let run = stop(job);
    assert_ok!(run);
    assert_decodes(&out, &data);
    assert!(scrape(&metrics).is_none(), "still serving after exit");
}

#[test]
fn both_endpoints_parse_as_prometheus_exposition_format() {
    let dir = Dir::new("metrics-parse");
    let data = text(6 * BLOCK, 92);
    let input = dir.file("in.txt", &data);
    let worker = Worker::start(&["--slots", "2", "--metrics", "127.0.0.1:0"]);
    let worker_metrics = worker.metrics.clone().expect("a metrics address");
    let job = start(
        &input,
        &dir.join("out.gz"),
        &[
            "-b",
            "128K",
            "--workers",
            &worker.addr,
            "--metrics-linger",
            "60s",
        ],
        &[],
    );
    let metrics = job.metrics.clone();
    wait_for(&metrics, "gzfleet_run_finished", 60, |v| v == 1.0);
    let url = |addr: &str| format!("http://{addr}/metrics");
    let checked = run(Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/parse_metrics.py"
        ))
        .args([&url(&worker_metrics), "gzfleet_worker_chunks:counter"])
        .args([
            "gzfleet_worker_compress_seconds:histogram",
            "gzfleet_worker_in_flight:gauge",
        ])
        .args([
            "gzfleet_worker_queued:gauge",
            "gzfleet_worker_rejected:counter",
            "--",
        ])
        .args([
            &url(&metrics),
            "gzfleet_chunks_done:counter",
            "gzfleet_chunks_planned:gauge",
        ])
        .args([
            "gzfleet_input_bytes:counter",
            "gzfleet_output_bytes:counter",
        ])
        .args(["gzfleet_retries:counter", "gzfleet_speculative:counter"])
        .args([
            "gzfleet_fleet_chunks:counter",
            "gzfleet_fleet_failures:counter",
        ])
        .args([
            "gzfleet_fleet_latency_seconds:histogram",
            "gzfleet_workers_up:gauge",
        ]));
    assert_ok!(checked);
    let printed = String::from_utf8_lossy(&checked.stdout);
    assert!(
        printed.contains("gzfleet_chunks_done counter 1"),
        "{printed}"
    );
    assert_ok!(stop(job));
}

/// Every line of `stderr` as JSON; panics naming a line that is not.
fn json_lines(who: &str, stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{who}: not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn json_logs_carry_the_totals_and_never_the_token() {
    let dir = Dir::new("logs-json");
    let secret = "tok-3f9a1c77e2d54b0c-never-logged";
    let token = dir.file("token", secret.as_bytes());
    let data = text(5 * BLOCK + 77, 93);
    let input = dir.file("in.txt", &data);
    let mut worker = Worker::start_env(
        &[
            "--token-file",
            token.to_str().unwrap(),
            "--log-format",
            "json",
            "--metrics",
            "127.0.0.1:0",
        ],
        &[("RUST_LOG", "debug".into())],
    );
    let worker_metrics = worker.metrics.clone().expect("a metrics address");
    // `start` asks for JSON logs.
    let args = ["-b", "128K", "--workers", &worker.addr];
    let job = start(
        &input,
        &dir.join("out.gz"),
        &[&args[..], &["--metrics-linger", "60s"]].concat(),
        &[("GZFLEET_TOKEN", secret), ("RUST_LOG", "debug")],
    );
    let metrics = job.metrics.clone();
    wait_for(&metrics, "gzfleet_run_finished", 60, |v| v == 1.0);
    let scraped = [scrape(&metrics).unwrap(), scrape(&worker_metrics).unwrap()];
    let job = stop(job);
    assert_ok!(job);
    worker.signal(libc::SIGTERM);
    assert!(
        worker.wait_exit(Duration::from_secs(20)).is_some(),
        "worker did not stop"
    );
    let worker_log = worker.stderr_text();

    let lines = json_lines("gzfleet", &job.stderr);
    let message = |l: &serde_json::Value| l["message"].as_str().unwrap_or_default().to_string();
    let started = lines
        .iter()
        .find(|l| message(l) == "job started")
        .expect("a job start line");
    assert_eq!(started["mode"], "push", "{started}");
    assert_eq!(started["workers"], 1, "{started}");
    let end = lines
        .iter()
        .find(|l| message(l) == "job finished")
        .expect("a job end line");
    assert_eq!(end["level"], "INFO", "{end}");
    assert_eq!(end["input_bytes"], data.len() as u64, "{end}");
    assert_eq!(end["chunks"], data.len().div_ceil(BLOCK) as u64, "{end}");
    assert_eq!(end["retries"], 0, "{end}");
    assert!(end["output_bytes"].as_u64().unwrap() > 0, "{end}");
    assert!(end["seconds"].as_f64().is_some(), "{end}");

    let worker_lines = json_lines("gzfleet-worker", &worker_log);
    let up = worker_lines
        .iter()
        .find(|l| message(l) == "worker started")
        .expect("a start line");
    assert_eq!(
        (up["token"].as_bool(), up["tls"].as_bool()),
        (Some(true), Some(false)),
        "{up}"
    );
    assert!(
        worker_lines
            .iter()
            .any(|l| message(l).starts_with("drained")),
        "{worker_log}"
    );

    for (what, text) in [
        ("gzfleet's log", &job.stderr),
        ("the worker's log", &worker_log),
    ]
    .into_iter()
    .chain([
        ("gzfleet's metrics", &scraped[0]),
        ("the worker's metrics", &scraped[1]),
    ]) {
        assert!(!text.contains(secret), "the token is in {what}:\n{text}");
    }
}

/// A log collector reading `--log-format json` output cannot parse a plain line: the
/// gzip-style warnings and errors, and a bad `RUST_LOG`, come as JSON events too.
#[test]
fn with_json_logs_warnings_and_errors_are_json_lines_too() {
    let dir = Dir::new("logs-json-problems");
    let kept = dir.file("kept.txt", b"hello");
    dir.file("kept.txt.gz", b"not ours");
    let done = dir.file("done.txt", b"world");
    let missing = dir.join("missing.txt");
    let r = run(gzfleet()
        .args(["compress", "--log-format", "json"])
        .args([&kept, &missing, &done])
        .env("RUST_LOG", "not==a filter"));
    assert_fails!(r, 1, "missing.txt");
    assert_decodes(&dir.join("done.txt.gz"), b"world");
    let lines = json_lines("gzfleet", &r.stderr);
    let said = |level: &str, what: &str| {
        lines
            .iter()
            .any(|l| l["level"] == level && l["message"].as_str().is_some_and(|m| m.contains(what)))
    };
    assert!(said("WARN", "kept.txt.gz already exists"), "{}", r.stderr);
    assert!(said("ERROR", "missing.txt"), "{}", r.stderr);
    assert!(said("WARN", "RUST_LOG="), "{}", r.stderr);
    let worker = run(Command::new(bin("gzfleet-worker"))
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--token-file", "/nonexistent"])
        .env("RUST_LOG", "not==a filter"));
    assert!(!worker.status.success());
    let lines = json_lines("gzfleet-worker", &worker.stderr);
    assert!(
        lines.iter().any(|l| l["level"] == "WARN"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("RUST_LOG="))),
        "{}",
        worker.stderr
    );
    // Without --log-format, the plain lines as before.
    let plain = run(gzfleet()
        .args(["compress"])
        .arg(&kept)
        .env_remove("RUST_LOG"));
    assert_fails!(
        plain,
        2,
        &format!("gzfleet: {}.gz already exists", kept.display())
    );
}

#[test]
fn a_taken_metrics_port_is_named_before_any_work() {
    let dir = Dir::new("metrics-taken");
    let input = dir.file("in.txt", b"hello");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let r = run(gzfleet()
        .args(["compress", "--metrics", &addr, "-c"])
        .arg(&input));
    assert_fails!(r, 1, &format!("--metrics {addr}: cannot listen"));
    assert!(r.stdout.is_empty(), "compressed anyway");
    let r = run(Command::new(bin("gzfleet-worker")).args([
        "--listen",
        "127.0.0.1:0",
        "--metrics",
        &addr,
    ]));
    assert_fails!(
        r,
        1,
        &format!("gzfleet-worker: --metrics {addr}: cannot listen")
    );
    let r = run(gzfleet()
        .args(["compress", "--metrics-linger", "5s", "-c"])
        .arg(&input));
    assert_fails!(r, 1, "--metrics");
}
