//! An independent gRPC implementation (Python grpcio, stubs generated from
//! proto/gzfleet.proto) talks to a real worker; gzip decodes what it builds.

use crate::util::*;

#[test]
fn python_grpcio_client_compresses_through_a_worker() {
    let dir = Dir::new("interop");
    let stubs = python_stubs(&dir);

    // Two 512 KiB chunks: the same split `gzfleet compress -b 512K` makes.
    let data = mixed(1 << 20, 51);
    let input = dir.file("data", &data);
    // Its root holds the same file, for the pull requests.
    let worker_root = dir.join("root");
    std::fs::create_dir(&worker_root).unwrap();
    std::fs::copy(&input, worker_root.join("data")).unwrap();
    let worker = Worker::start(&["--max-chunk", "1M", "--root", worker_root.to_str().unwrap()]);
    let out = dir.join("python.gz");
    let client = run(python_client("interop_client.py", &stubs)
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
    // Same engine (a request naming none gets zlib-rs), same chunks, same header: the
    // very bytes gzfleet writes.
    let ours = compress_file(&dir, &input, &["-n", "-b", "512K", "--engine", "zlib-rs"]);
    assert!(
        std::fs::read(&out).unwrap() == ours,
        "python-assembled stream differs from gzfleet's"
    );
}
