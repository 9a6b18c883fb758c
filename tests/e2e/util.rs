//! Helpers for the end-to-end tests: the built binaries, scratch folders, test data,
//! running commands, real gzip/pigz checks, and real worker processes.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Asserts a command succeeded, showing its stderr when it did not.
macro_rules! assert_ok {
    ($run:expr) => {{
        let r = &$run;
        assert!(
            r.status.success(),
            "command failed ({:?}):\n{}",
            r.status,
            r.stderr
        );
    }};
}

/// Asserts a command failed with `code` and that its stderr contains `needle`.
macro_rules! assert_fails {
    ($run:expr, $code:expr, $needle:expr) => {{
        let r = &$run;
        assert_eq!(
            r.status.code(),
            Some($code),
            "exit status; stderr:\n{}",
            r.stderr
        );
        assert!(
            r.stderr.contains($needle),
            "stderr lacks {:?}:\n{}",
            $needle,
            r.stderr
        );
    }};
}

/// A binary cargo built for these tests, in this test binary's profile: `gzfleet`,
/// `gzfleet-worker`, or the test-only `gzfleet-worker-faulty`.
pub fn bin(name: &str) -> PathBuf {
    PathBuf::from(match name {
        "gzfleet" => env!("CARGO_BIN_EXE_gzfleet"),
        "gzfleet-worker" => env!("CARGO_BIN_EXE_gzfleet-worker"),
        // Built only with the fault-injection feature: without it the tests that need
        // it fail here, saying how to run them, and the others still run.
        "gzfleet-worker-faulty" => match option_env!("CARGO_BIN_EXE_gzfleet-worker-faulty") {
            Some(path) => path,
            None => panic!(
                "the fault-injection worker was not built: run the tests as README says, with --features fault-injection"
            ),
        },
        other => panic!("no binary {other} is built for the tests"),
    })
}

/// A scratch folder under target/ (on the same disk as the build, not a small tmpfs),
/// removed when dropped.
pub struct Dir {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Dir {
    pub fn new(name: &str) -> Dir {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-scratch");
        std::fs::create_dir_all(&root).expect("creating the scratch root");
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir_in(&root)
            .expect("creating a scratch folder");
        Dir {
            path: dir.path().to_path_buf(),
            _dir: dir,
        }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes a file (and the folders it is in) and returns its path.
    pub fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.join(name);
        std::fs::create_dir_all(p.parent().expect("a file in the folder")).expect("a folder");
        std::fs::write(&p, data).expect("writing test input");
        p
    }

    /// Names in the folder, sorted: what a failed command must not have left.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.path)
            .expect("listing scratch folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// Sets a file's modification time.
pub fn set_mtime(path: &Path, mtime: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(mtime))
        .expect("setting mtime");
}

/// Deterministic pseudo-random bytes (xorshift): incompressible.
pub fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// Deterministic text-like bytes: compressible, with matches across chunk boundaries.
pub fn text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "gzip",
        "chunk",
        "worker",
        "deflate",
        "stream",
        "cluster",
        "the",
        "of",
        "and",
        "block",
        "coordinator",
        "dictionary",
        "window",
        "member",
        "trailer",
        "checksum",
        "\n",
        ", ",
    ];
    let noise = random(len / 4 + 16, seed);
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 0;
    while out.len() < len {
        out.extend_from_slice(WORDS[noise[i % noise.len()] as usize % WORDS.len()].as_bytes());
        out.push(b' ');
        i += 1;
    }
    out.truncate(len);
    out
}

/// Half text, half noise, interleaved in 50 KB runs: both kinds in every chunk size.
pub fn mixed(len: usize, seed: u64) -> Vec<u8> {
    let t = text(len, seed);
    let r = random(len, seed + 1);
    (0..len)
        .map(|i| if (i / 50_000) % 2 == 0 { t[i] } else { r[i] })
        .collect()
}

/// A finished command.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

pub fn gzfleet() -> Command {
    Command::new(bin("gzfleet"))
}

/// Runs `cmd` with `stdin` as its input (empty when None), capturing the outputs.
pub fn run_with(cmd: &mut Command, stdin: Option<&[u8]>) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let input = stdin.map(<[u8]>::to_vec).unwrap_or_default();
    let mut pipe = child.stdin.take().expect("stdin pipe");
    let feeder = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("waiting for command");
    feeder.join().expect("stdin feeder");
    Run {
        status: out.status,
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn run(cmd: &mut Command) -> Run {
    run_with(cmd, None)
}

/// Runs `cmd` as `run` does and also returns its peak resident memory in bytes. GNU
/// time(1) measures it: on Linux a process's peak includes that of the process it was
/// forked from, so measured directly from this test process every child would seem as
/// large as the test harness; time forks it from a small process instead. With
/// `keep_stdout` false its stdout goes to /dev/null, so a gigabyte of output costs the
/// test nothing.
pub fn run_measured(cmd: &Command, keep_stdout: bool) -> (Run, u64) {
    let report = tempfile::NamedTempFile::new().expect("a file for time's report");
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M", "-o"])
        .arg(report.path())
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null())
        .stdout(if keep_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
    let out = timed
        .output()
        .unwrap_or_else(|e| panic!("/usr/bin/time (Debian's time) must be installed: {e}"));
    let text = std::fs::read_to_string(report.path()).expect("time's report");
    // "Command exited with non-zero status N" may come first; the figure is last.
    let kib: u64 = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("time's report: {text:?}"));
    let run = Run {
        status: out.status,
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, kib * 1024)
}

/// Runs `cmd`, killing it if it is still running after `secs` seconds (then its status
/// is that of a killed process, which no assertion on an exit code accepts).
pub fn run_within(cmd: &mut Command, secs: u64) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().expect("try_wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("waiting for command");
    Run {
        status: out.status,
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a system tool (gzip, pigz) on a file, returning its stdout; panics on failure.
pub fn tool(name: &str, args: &[&str], file: &Path) -> Vec<u8> {
    let out = Command::new(name)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{name} must be installed ({e})"));
    assert!(
        out.status.success(),
        "{name} {args:?} {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Checks a .gz the way users will: `gzip -t`, `pigz -t`, and `gzip -dc`, `pigz -dc`
/// and flate2's multi-member decoder each giving back `expected`.
pub fn assert_decodes(gz: &Path, expected: &[u8]) {
    tool("gzip", &["-t"], gz);
    tool("pigz", &["-t"], gz);
    let by_gzip = tool("gzip", &["-dc"], gz);
    assert!(
        by_gzip == expected,
        "gzip -dc {} differs from the input",
        gz.display()
    );
    let by_pigz = tool("pigz", &["-dc"], gz);
    assert!(
        by_pigz == expected,
        "pigz -dc {} differs from the input",
        gz.display()
    );
    let mut by_flate2 = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(gz).expect("open .gz"))
        .read_to_end(&mut by_flate2)
        .expect("flate2 decodes it");
    assert!(
        by_flate2 == expected,
        "flate2 decodes {} differently",
        gz.display()
    );
}

/// Compresses `input` to a fresh file with the given arguments and returns its bytes.
pub fn compress_file(dir: &Dir, input: &Path, args: &[&str]) -> Vec<u8> {
    static N: AtomicU64 = AtomicU64::new(0);
    let out = dir.join(&format!("out-{}.gz", N.fetch_add(1, Ordering::Relaxed)));
    let r = run(gzfleet()
        .arg("compress")
        .args(args)
        .arg("-o")
        .arg(&out)
        .arg(input));
    assert_ok!(r);
    let bytes = std::fs::read(&out).expect("reading output");
    std::fs::remove_file(&out).expect("removing output");
    bytes
}

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

/// A real S3-compatible server (moto, from PyPI) on a loopback port, one for the whole
/// test run. It is started from a thread that lives as long as the test process, and
/// dies with it (PR_SET_PDEATHSIG), so no server outlives the tests.
pub struct Moto {
    pub port: u16,
}

pub fn moto() -> &'static Moto {
    static MOTO: std::sync::OnceLock<Moto> = std::sync::OnceLock::new();
    MOTO.get_or_init(|| {
        let port = free_port();
        let (started, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut cmd = Command::new("moto_server");
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl in the child between fork and exec touches no shared state.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = cmd.spawn();
            let _ = started.send(child.map(|_| ()).map_err(|e| e.to_string()));
            loop {
                std::thread::park();
            }
        });
        ready.recv().unwrap().unwrap_or_else(|e| {
            panic!("moto_server must be installed (pip install 'moto[server]'): {e}")
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let moto = Moto { port };
        while moto.http("GET", "/", b"").map(|(s, _)| s) != Some(200) {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    })
}

impl Moto {
    /// The environment gzfleet and workers read to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// One HTTP/1.1 request (moto does not check signatures): status and body.
    pub fn http(&self, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
        self.request(method, path, "", body)
    }

    /// As `http`, with more header lines (each ending in CRLF).
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> Option<(u16, Vec<u8>)> {
        use std::net::TcpStream;
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n",
            self.port,
            body.len()
        );
        s.write_all(head.as_bytes()).ok()?;
        s.write_all(body).ok()?;
        let mut response = Vec::new();
        s.read_to_end(&mut response).ok()?;
        let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
        let status = std::str::from_utf8(&response[9..12]).ok()?.parse().ok()?;
        let headers = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
        let mut body = response[split + 4..].to_vec();
        if headers.contains("transfer-encoding: chunked") {
            body = unchunk(&body);
        }
        Some((status, body))
    }

    /// A fresh bucket for one test.
    pub fn bucket(&self, name: &str) -> String {
        let (status, _) = self
            .http("PUT", &format!("/{name}"), b"")
            .expect("moto answers");
        assert_eq!(status, 200, "creating bucket {name}");
        name.to_string()
    }

    pub fn put(&self, bucket: &str, key: &str, data: &[u8]) {
        let (status, _) = self
            .http("PUT", &format!("/{bucket}/{key}"), data)
            .expect("moto answers");
        assert_eq!(status, 200, "putting {bucket}/{key}");
    }

    /// An object anyone may read, without credentials.
    pub fn put_public(&self, bucket: &str, key: &str, data: &[u8]) {
        let (status, _) = self
            .request(
                "PUT",
                &format!("/{bucket}/{key}"),
                "x-amz-acl: public-read\r\n",
                data,
            )
            .expect("moto answers");
        assert_eq!(status, 200, "putting {bucket}/{key}");
    }

    /// The object's bytes, or None if there is no such object.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        match self.http("GET", &format!("/{bucket}/{key}"), b"") {
            Some((200, body)) => Some(body),
            _ => None,
        }
    }

    /// Multipart uploads started in the bucket and neither completed nor aborted.
    pub fn open_uploads(&self, bucket: &str) -> usize {
        let (_, body) = self
            .http("GET", &format!("/{bucket}?uploads"), b"")
            .expect("moto answers");
        String::from_utf8_lossy(&body).matches("<Upload>").count()
    }
}

/// Decodes an HTTP chunked body.
fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..eol]).unwrap_or("0").trim(), 16)
                .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&body[eol + 2..eol + 2 + size]);
        body = &body[eol + 2 + size + 2..];
    }
    out
}

/// Python stubs for proto/gzfleet.proto, generated into `dir` by grpcio-tools: the
/// contract as an independent gRPC implementation sees it.
pub fn python_stubs(dir: &Dir) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stubs = dir.join("stubs");
    std::fs::create_dir(&stubs).expect("creating the stubs folder");
    let protoc = run(Command::new("python3")
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(root.join("proto"))
        .arg(format!("--python_out={}", stubs.display()))
        .arg(format!("--grpc_python_out={}", stubs.display()))
        .arg(root.join("proto/gzfleet.proto")));
    assert_ok!(protoc);
    stubs
}

/// `python3 tests/python/SCRIPT`, with the stubs on its path.
pub fn python_client(script: &str, stubs: &Path) -> Command {
    let mut cmd = Command::new("python3");
    cmd.env("PYTHONPATH", stubs).arg(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/python")
            .join(script),
    );
    cmd
}
