//! Object stores, against a real S3-compatible server (moto) on loopback: objects in
//! and out, push and pull, the same bytes as compressing the same data from disk; an
//! object output interrupted leaves no object and no open upload behind.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::*;

/// gzfleet with the store's credentials and endpoint in its environment.
fn gzfleet_s3() -> std::process::Command {
    let mut cmd = gzfleet();
    cmd.envs(moto().env());
    cmd
}

/// The reference: the same bytes compressed from a file (nameless, as the name and
/// mtime of an object and a file differ).
fn reference(dir: &Dir, data: &[u8], args: &[&str]) -> Vec<u8> {
    let input = dir.file("reference-input", data);
    compress_file(dir, &input, &[args, &["-n"]].concat())
}

#[test]
fn an_object_compresses_to_a_file_and_to_another_object_as_from_disk() {
    let s3 = moto();
    let bucket = s3.bucket("push");
    let data = mixed(6 << 20, 91);
    s3.put(&bucket, "logs/data.tar", &data);
    let dir = Dir::new("s3-push");
    let expected = reference(&dir, &data, &["-b", "1M"]);
    let url = format!("s3://{bucket}/logs/data.tar");

    let local = dir.join("data.tar.gz");
    let r = run(gzfleet_s3()
        .args(["compress", "-n", "-b", "1M", "-o"])
        .arg(&local)
        .arg(&url));
    assert_ok!(r);
    assert!(
        std::fs::read(&local).unwrap() == expected,
        "object to file differs"
    );

    let out = format!("s3://{bucket}/out/data.tar.gz");
    let r = run(gzfleet_s3().args(["compress", "-n", "-b", "1M", "-o", &out, &url]));
    assert_ok!(r);
    let written = s3
        .get(&bucket, "out/data.tar.gz")
        .expect("the object was written");
    assert!(written == expected, "object to object differs");
    assert_eq!(s3.open_uploads(&bucket), 0);

    // With no -o, the output goes beside the input: another object.
    let r = run(gzfleet_s3().args(["compress", "-n", "-b", "1M", &url]));
    assert_ok!(r);
    assert!(s3.get(&bucket, "logs/data.tar.gz").expect("beside") == expected);
    // Which now exists: not replaced without -f.
    let again = run(gzfleet_s3().args(["compress", "-n", "-b", "1M", &url]));
    assert_fails!(
        again,
        2,
        "logs/data.tar.gz already exists; use -f to overwrite"
    );
}

#[test]
fn a_file_compresses_to_an_object_through_workers() {
    let s3 = moto();
    let bucket = s3.bucket("file-to-object");
    let dir = Dir::new("s3-file-out");
    let data = text(3 << 20, 92);
    let input = dir.file("data", &data);
    let expected = compress_file(&dir, &input, &["-b", "128K"]);
    let w = Worker::start(&["--slots", "2"]);
    let out = format!("s3://{bucket}/data.gz");
    let r = run(gzfleet_s3()
        .args(["compress", "-b", "128K", "--workers", &w.addr, "-o", &out])
        .arg(&input));
    assert_ok!(r);
    assert!(s3.get(&bucket, "data.gz").unwrap() == expected);
}

#[test]
fn an_object_output_of_several_parts_is_whole_and_in_order() {
    let s3 = moto();
    let bucket = s3.bucket("parts");
    let dir = Dir::new("s3-parts");
    // Incompressible, so the output spans three 8 MiB parts and a short last one.
    let data = random(26 << 20, 95);
    let input = dir.file("data", &data);
    let expected = compress_file(&dir, &input, &["-1", "-b", "1M"]);
    assert!(expected.len() > 3 * (8 << 20), "not several parts");
    let out = format!("s3://{bucket}/data.gz");
    let r = run(gzfleet_s3()
        .args(["compress", "-1", "-b", "1M", "-o", &out])
        .arg(&input));
    assert_ok!(r);
    assert!(
        s3.get(&bucket, "data.gz").unwrap() == expected,
        "parts differ"
    );
    assert_eq!(s3.open_uploads(&bucket), 0);
}

#[test]
fn a_plain_http_url_is_read_as_an_object() {
    let s3 = moto();
    let bucket = s3.bucket("http-in");
    let data = text(3 << 20, 96);
    s3.put_public(&bucket, "page.txt", &data);
    let dir = Dir::new("http-in");
    let expected = reference(&dir, &data, &["-b", "256K"]);
    let url = format!("http://127.0.0.1:{}/{bucket}/page.txt", s3.port);
    let out = dir.join("page.txt.gz");
    // No credentials: a plain URL is fetched as it is.
    let r = run(gzfleet()
        .args(["compress", "-n", "-b", "256K", "-o"])
        .arg(&out)
        .arg(&url));
    assert_ok!(r);
    assert!(
        std::fs::read(&out).unwrap() == expected,
        "http input differs"
    );
    // Nothing listening: the error says what went wrong underneath.
    let gone = format!("http://127.0.0.1:{}/x/y", free_port());
    let r = run(gzfleet().args(["compress", "-c", &gone]));
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    assert!(
        r.stderr.to_lowercase().contains("connect"),
        "the cause is hidden: {}",
        r.stderr
    );
}

#[test]
fn a_worker_reads_only_objects_below_its_prefixes() {
    let s3 = moto();
    let open = s3.bucket("prefix-open");
    let closed = s3.bucket("prefix-closed");
    let data = text(1 << 20, 97);
    s3.put(&open, "ok/data", &data);
    s3.put(&open, "data", &data);
    s3.put(&closed, "data", &data);
    let allow = format!("s3://{open}/ok/");
    let w = Worker::start_env(&["--slots", "1", "--read-objects", &allow], &s3.env());
    let pull = |url: &str| {
        run(gzfleet_s3().args([
            "compress",
            "-n",
            "-c",
            "-b",
            "256K",
            "--pull",
            "--workers",
            &w.addr,
            url,
        ]))
    };
    let r = pull(&format!("s3://{open}/ok/data"));
    assert_ok!(r);
    for refused in [
        format!("s3://{closed}/data"),
        format!("s3://{open}/ok/../data"),
    ] {
        let r = pull(&refused);
        assert_fails!(r, 1, "not below this worker's --read-objects");
    }
    // A prefix that could match a longer name is refused at start.
    let bad = run(Command::new(bin("gzfleet-worker")).args(["--read-objects", "s3://logs"]));
    assert_fails!(bad, 1, "must end with \"/\"");
}

#[test]
fn workers_pull_an_object_themselves() {
    let s3 = moto();
    let bucket = s3.bucket("pull");
    let data = mixed(5 << 20, 93);
    s3.put(&bucket, "data.tar", &data);
    let dir = Dir::new("s3-pull");
    let url = format!("s3://{bucket}/data.tar");
    let ws = [
        Worker::start_env(&["--slots", "1", "--read-objects", "s3://"], &moto().env()),
        Worker::start_env(&["--slots", "1", "--read-objects", "s3://"], &moto().env()),
    ];
    for mode in [
        &["-b", "128K"][..],
        &["-b", "128K", "--engine", "zlib-rs"][..],
    ] {
        let expected = reference(&dir, &data, mode);
        let out = dir.join("pulled.gz");
        let r = run(gzfleet_s3()
            .args([
                "compress",
                "-n",
                "-f",
                "--pull",
                "--workers",
                &addrs(&[&ws[0], &ws[1]]),
            ])
            .args(mode)
            .arg("-o")
            .arg(&out)
            .arg(&url));
        assert_ok!(r);
        assert!(
            std::fs::read(&out).unwrap() == expected,
            "{mode:?}: pulled differs"
        );
    }
    // A worker not told to read objects refuses, and the coordinator says why.
    let plain = Worker::start(&[]);
    let r = run(gzfleet_s3().args([
        "compress",
        "-n",
        "-c",
        "--pull",
        "--workers",
        &plain.addr,
        &url,
    ]));
    assert_fails!(r, 1, "start it with --read-objects");
}

#[test]
fn an_interrupted_object_output_leaves_no_object_and_no_upload() {
    let s3 = moto();
    let bucket = s3.bucket("interrupted");
    let dir = Dir::new("s3-interrupted");
    // Slow enough (-9, one thread) to be interrupted mid-upload.
    let input = dir.file("data", &text(48 << 20, 94));
    let out = format!("s3://{bucket}/data.gz");
    let child = gzfleet_s3()
        .args(["compress", "-9", "-p", "1", "-o", &out])
        .arg(&input)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let r = finish(child);
    assert_eq!(r.status.code(), Some(130), "{}", r.stderr);
    assert!(
        s3.get(&bucket, "data.gz").is_none(),
        "an interrupted upload became an object"
    );
    assert_eq!(
        s3.open_uploads(&bucket),
        0,
        "the multipart upload was not aborted"
    );
}

#[test]
fn object_outputs_and_inputs_say_why_they_cannot_be_resumed() {
    let s3 = moto();
    let bucket = s3.bucket("resume");
    s3.put(&bucket, "in", b"some data");
    let dir = Dir::new("s3-resume");
    let input = dir.file("data", b"local");
    let r = run(gzfleet_s3()
        .args([
            "compress",
            "--resume",
            "-o",
            &format!("s3://{bucket}/out.gz"),
        ])
        .arg(&input));
    assert_fails!(r, 1, "an object output cannot be resumed");
    let r = run(gzfleet_s3()
        .args(["compress", "--resume", "-o"])
        .arg(dir.join("in.gz"))
        .arg(format!("s3://{bucket}/in")));
    assert_fails!(r, 1, "is an object: resuming reads the input again");
    let missing = run(gzfleet_s3().args(["compress", "-c", &format!("s3://{bucket}/nothing")]));
    assert_eq!(missing.status.code(), Some(1));
    assert!(missing.stderr.contains("nothing"), "{}", missing.stderr);
}
