//! `--index-file` beside an output that is no file (stdout, an object): the old index
//! at that path never outlives the output it described. It is gone before the new
//! output is finished (stdout: before its first byte; an object: before its upload
//! completes), and the new one is put there only once the output is complete. So a run
//! failing on the way leaves no index rather than the old one beside new bytes, while
//! an object upload failing before its end leaves the old object and its index as
//! they were.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::index_write::accepted;
use crate::util::*;

const ARGS: [&str; 6] = ["-b", "128K", "--engine", "zlib-rs", "--index-span", "512K"];

fn partial(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.gzfleet-partial", path.display()))
}

/// An index of other data at `gzi`, as a user's earlier run left it.
fn old_index(dir: &Dir, gzi: &Path) -> Vec<u8> {
    let input = dir.file("old", &mixed(1_200_000, 1301));
    assert_ok!(run(gzfleet()
        .args(["compress", "-f", "--index-file"])
        .arg(gzi)
        .args(ARGS)
        .arg(&input)));
    std::fs::read(gzi).unwrap()
}

#[test]
fn stdout_drops_the_old_index_before_its_first_byte_and_writes_the_new_after_its_last() {
    let dir = Dir::new("index-stdout");
    let gzi = dir.join("out.gzi");
    let data = text(1_500_000, 1302);
    let input = dir.file("data", &data);
    let old = old_index(&dir, &gzi);

    // The reader goes away before anything is written: the run fails at its first
    // byte, and the old index must be gone with no new one in its place.
    let mut child = gzfleet()
        .args(["compress", "-c", "-f", "--index-file"])
        .arg(&gzi)
        .args(ARGS)
        .arg(&input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let r = finish(child);
    assert!(!r.status.success(), "wrote to a closed pipe: {}", r.stderr);
    assert!(
        !gzi.exists(),
        "the old index outlived the run that replaced it"
    );
    assert!(!partial(&gzi).exists(), "the new index was left half-way");

    // Through to the end: the new index is in place and describes what was written.
    std::fs::write(&gzi, &old).unwrap();
    let r = run(gzfleet()
        .args(["compress", "-c", "-f", "--index-file"])
        .arg(&gzi)
        .args(ARGS)
        .arg(&input));
    assert_ok!(r);
    let gz = dir.file("out.gz", &r.stdout);
    assert!(
        std::fs::read(&gzi).unwrap() != old,
        "the old index was kept"
    );
    accepted(&gz, &gzi, &data, &[0, 1, 524_288, 700_000, data.len() - 1]);
}

#[test]
fn an_object_drops_the_old_index_just_before_its_upload_completes() {
    let s3 = moto();
    let bucket = s3.bucket("index-elsewhere");
    let dir = Dir::new("index-object");
    let gzi = dir.join("out.gzi");
    let data = text(1_500_000, 1303);
    let input = dir.file("data", &data);
    let old = old_index(&dir, &gzi);
    let old_object = b"the object the old index describes".to_vec();
    // Public: moto lets an unsigned GET (the test's) read it.
    s3.put_public(&bucket, "out.gz", &old_object);
    let url = format!("s3://{bucket}/out.gz");
    let compress = |endpoint: u16| {
        let mut cmd = gzfleet();
        cmd.envs(s3.env())
            .env("AWS_ENDPOINT", format!("http://127.0.0.1:{endpoint}"))
            .args(["compress", "-f", "-o", &url, "--index-file"])
            .arg(&gzi)
            .args(ARGS)
            .arg(&input);
        run(&mut cmd)
    };

    // A part refused: the old object stays, and so does its index.
    let refuse_parts = Refusing::start(s3.port, |line| line.contains("partNumber="));
    let r = compress(refuse_parts.port);
    assert!(!r.status.success(), "a refused part went unnoticed");
    assert!(r.stderr.contains("refused by the test"), "{}", r.stderr);
    assert!(s3.get(&bucket, "out.gz").unwrap() == old_object);
    assert!(
        std::fs::read(&gzi).ok().as_ref() == Some(&old),
        "a run failing before its end took the index of the object it left"
    );

    // The completion refused: every part is there, the old index must be gone.
    let refuse_end = Refusing::start(s3.port, |line| {
        line.starts_with("POST ") && line.contains("uploadId=")
    });
    let r = compress(refuse_end.port);
    assert!(!r.status.success(), "a refused completion went unnoticed");
    assert!(r.stderr.contains("refused by the test"), "{}", r.stderr);
    assert!(s3.get(&bucket, "out.gz").unwrap() == old_object);
    assert!(!gzi.exists(), "the old index was kept to the very end");
    assert!(!partial(&gzi).exists(), "the new index was left half-way");
    assert_eq!(s3.open_uploads(&bucket), 0, "the upload was not aborted");

    // Through to the end: the new object with its new index.
    std::fs::write(&gzi, &old).unwrap();
    assert_ok!(compress(s3.port));
    let gz = dir.file("out.gz", &s3.get(&bucket, "out.gz").unwrap());
    accepted(&gz, &gzi, &data, &[0, 1, 524_288, 700_000, data.len() - 1]);
}

/// A proxy in front of moto that answers 403 to the requests `refuse` picks by their
/// request line, and passes every other on, one request a connection.
struct Refusing {
    port: u16,
}

impl Refusing {
    fn start(upstream: u16, refuse: fn(&str) -> bool) -> Refusing {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let _ = relay(client, upstream, refuse);
                });
            }
        });
        Refusing { port }
    }
}

fn relay(client: TcpStream, upstream: u16, refuse: fn(&str) -> bool) -> std::io::Result<()> {
    let mut from = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    let mut head = Vec::new();
    let mut line = String::new();
    from.read_line(&mut line)?;
    let first = line.clone();
    let (mut length, mut chunked) = (0usize, false);
    loop {
        line.clear();
        from.read_line(&mut line)?;
        let lower = line.to_ascii_lowercase();
        if let Some(n) = lower.strip_prefix("content-length:") {
            length = n.trim().parse().unwrap_or(0);
        }
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if !lower.starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            from.read_line(&mut line)?;
            body.extend_from_slice(line.as_bytes());
            let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            from.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    } else {
        body.resize(length, 0);
        from.read_exact(&mut body)?;
    }
    if refuse(&first) {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>refused by the test</Message></Error>";
        let answer = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
            xml.len()
        );
        return to_client.write_all(answer.as_bytes());
    }
    let mut moto = TcpStream::connect(("127.0.0.1", upstream))?;
    moto.write_all(first.as_bytes())?;
    moto.write_all(&head)?;
    moto.write_all(b"Connection: close\r\n\r\n")?;
    moto.write_all(&body)?;
    let mut answer = Vec::new();
    moto.read_to_end(&mut answer)?;
    // One request a connection: the client is told so, not left to find out.
    let status_end = answer.windows(2).position(|w| w == b"\r\n").unwrap_or(0) + 2;
    to_client.write_all(&answer[..status_end])?;
    to_client.write_all(b"Connection: close\r\n")?;
    to_client.write_all(&answer[status_end..])
}
