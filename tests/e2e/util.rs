//! Helpers for the end-to-end tests: the built binaries, scratch folders, test data,
//! running commands and real gzip/pigz checks; real worker processes and jobs in
//! `processes`, moto and the Python gRPC stubs in `services`.

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

// After the macros above, which they use.
mod processes;
mod services;
pub use processes::*;
pub use services::*;
