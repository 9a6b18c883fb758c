//! Real processes for the end-to-end tests: gzfleet-worker on loopback ports, a
//! compress job in the background, and fault-test cases with their reference output.

use super::*;

/// A real gzfleet-worker process on a loopback port, killed when dropped.
pub struct Worker {
    pub child: Child,
    pub addr: String,
    /// Where its `--metrics` endpoint listens, as its banner says (port 0 resolved).
    pub metrics: Option<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Worker {
    /// Starts a worker on a free port (or `addr`), waiting until it listens.
    pub fn start(args: &[&str]) -> Worker {
        Worker::start_bin("gzfleet-worker", "127.0.0.1:0", args)
    }

    pub fn start_faulty(args: &[&str]) -> Worker {
        Worker::start_bin("gzfleet-worker-faulty", "127.0.0.1:0", args)
    }

    pub fn start_bin(binary: &str, listen: &str, args: &[&str]) -> Worker {
        Worker::start_with(binary, listen, args, &[])
    }

    /// A worker with extra environment (credentials for an object store, say).
    pub fn start_env(args: &[&str], env: &[(&str, String)]) -> Worker {
        Worker::start_with("gzfleet-worker", "127.0.0.1:0", args, env)
    }

    fn start_with(binary: &str, listen: &str, args: &[&str], env: &[(&str, String)]) -> Worker {
        let mut child = Command::new(bin(binary))
            .args(["--listen", listen])
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
        let mut lines = BufReader::new(child.stdout.take().expect("worker stdout"));
        let mut first = String::new();
        lines.read_line(&mut first).expect("reading worker banner");
        let addr = first
            .split_whitespace()
            .nth(3)
            .unwrap_or_else(|| panic!("unexpected worker banner {first:?}"))
            .to_string();
        let metrics =
            (first.trim_end().rsplit_once(", metrics on ")).map(|(_, metrics)| metrics.to_string());
        let mut err = child.stderr.take().expect("worker stderr");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Worker {
            child,
            addr,
            metrics,
            stderr: Some(stderr),
        }
    }

    /// SIGKILL: no goodbye, as a crash or a lost machine.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for the process to exit on its own, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Everything the worker wrote on stderr; call after it exited.
    pub fn stderr_text(&mut self) -> String {
        self.stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.addr.rsplit(':').next().unwrap().parse().unwrap()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Comma-separated addresses for --workers.
pub fn addrs(workers: &[&Worker]) -> String {
    workers
        .iter()
        .map(|w| w.addr.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs the closure in a child process as user `nobody` when we are root, so
/// permission checks apply (root reads everything).
pub fn as_unprivileged(cmd: &mut Command) -> &mut Command {
    // SAFETY: setgid/setuid between fork and exec touch no shared state.
    if unsafe { libc::geteuid() } == 0 {
        unsafe {
            cmd.pre_exec(|| {
                if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd
}

/// The first number after `"key":` in a --stats-json file (enough for our flat keys).
pub fn json_number(json: &str, key: &str) -> u64 {
    let pat = format!("\"{key}\":");
    let at = json
        .find(&pat)
        .unwrap_or_else(|| panic!("{key} missing from {json}"))
        + pat.len();
    json[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {json}"))
}

/// Chunks a worker compressed, from a --stats-json file.
pub fn worker_chunks(json: &str, addr: &str) -> u64 {
    let at = json
        .find(&format!("\"name\":\"{addr}\""))
        .unwrap_or_else(|| panic!("worker {addr} missing from {json}"));
    json_number(&json[at..], "chunks")
}

/// A port that was free a moment ago (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a free port")
}

/// Starts `gzfleet compress` on `input` to `out` in the background.
pub fn start_job(
    input: &std::path::Path,
    out: &std::path::Path,
    stats: &std::path::Path,
    args: &[&str],
) -> Child {
    gzfleet()
        .arg("compress")
        .args(args)
        .arg("--stats-json")
        .arg(stats)
        .arg("-o")
        .arg(out)
        .arg(input)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting gzfleet")
}

pub fn finish(job: Child) -> Run {
    let out = job.wait_with_output().expect("waiting for gzfleet");
    Run {
        status: out.status,
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub struct Case {
    pub dir: Dir,
    pub input: std::path::PathBuf,
    pub reference: Vec<u8>,
}

/// Input plus the fault-free output to compare with. Text at -9 compresses slowly
/// enough (~15 MB/s a core) for kills to land mid-job.
pub fn case(name: &str, len: usize, args: &[&str]) -> Case {
    let dir = Dir::new(name);
    let input = dir.file("data", &text(len, len as u64));
    let reference = compress_file(&dir, &input, args);
    Case {
        dir,
        input,
        reference,
    }
}

/// The body of `GET /metrics` at `addr` (classic text format), or None if nothing
/// answers there (yet, or any more).
pub fn scrape(addr: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    Some(reply.split_once("\r\n\r\n")?.1.to_string())
}

/// The value of the sample named exactly `sample` (labels included) in a scrape's body.
pub fn sample_value(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .find_map(|v| v.trim().parse().ok())
}

/// Waits until `worker`'s metrics show it has answered at least `done` chunks and holds
/// another, so that a kill lands mid-work: a kill at a fixed time can find it idle on
/// a loaded machine, and then nothing fails.
pub fn wait_until_busy(worker: &Worker, done: f64) {
    let busy = |m: &str| {
        sample_value(m, "gzfleet_worker_chunks_total").is_some_and(|n| n >= done)
            && sample_value(m, "gzfleet_worker_in_flight").is_some_and(|n| n >= 1.0)
    };
    let metrics = worker
        .metrics
        .as_ref()
        .expect("the worker runs without --metrics");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !scrape(metrics).is_some_and(|m| busy(&m)) {
        assert!(Instant::now() < deadline, "the victim never got to work");
        std::thread::sleep(Duration::from_millis(5));
    }
}
