//! Real services the end-to-end tests talk to: moto (an S3-compatible server) on a
//! loopback port, and Python gRPC stubs of the contract for an independent client.

use super::*;

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
