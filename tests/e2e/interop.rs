//! An independent gRPC implementation (Python grpcio, stubs generated from
//! proto/gzfleet.proto) talks to a real worker; gzip decodes what it builds.

use std::path::Path;
use std::process::Command;

use crate::util::*;

#[test]
fn python_grpcio_client_compresses_through_a_worker() {
    let dir = Dir::new("interop");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stubs = dir.join("stubs");
    std::fs::create_dir(&stubs).unwrap();
    let protoc = run(Command::new("python3")
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(root.join("proto"))
        .arg(format!("--python_out={}", stubs.display()))
        .arg(format!("--grpc_python_out={}", stubs.display()))
        .arg(root.join("proto/gzfleet.proto")));
    assert_ok!(protoc);

    // Two 512 KiB chunks: the same split `gzfleet compress -b 512K` makes.
    let data = mixed(1 << 20, 51);
    let input = dir.file("data", &data);
    // Its root holds the same file, for the pull requests.
    let worker_root = dir.join("root");
    std::fs::create_dir(&worker_root).unwrap();
    std::fs::copy(&input, worker_root.join("data")).unwrap();
    let worker = Worker::start(&["--max-chunk", "1M", "--root", worker_root.to_str().unwrap()]);
    let out = dir.join("python.gz");
    let client = run(Command::new("python3")
        .env("PYTHONPATH", &stubs)
        .arg(root.join("tests/python/interop_client.py"))
        .arg(&worker.addr)
        .arg(&input)
        .arg(&out)
        .arg(&worker_root));
    assert_ok!(client);
    let said = String::from_utf8_lossy(&client.stdout);
    for line in [
        "oversized chunk refused: INVALID_ARGUMENT",
        "pulled chunks: same bytes as pushed",
        "escape refused: /etc/passwd: INVALID_ARGUMENT",
        "escape refused: ../data: INVALID_ARGUMENT",
    ] {
        assert!(said.contains(line), "{said}");
    }
    assert_decodes(&out, &data);
    // Same engine, same chunks, same header: the very bytes gzfleet writes.
    let ours = compress_file(&dir, &input, &["-n", "-b", "512K"]);
    assert!(
        std::fs::read(&out).unwrap() == ours,
        "python-assembled stream differs from gzfleet's"
    );
}
