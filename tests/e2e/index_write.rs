//! Indexes written by `compress --index` and by `gzfleet index`, judged by the tools
//! that read them: gztool (`-I INDEX -b OFFSET` extracts from an offset) and rapidgzip
//! (`--import-index`). The .gz is the same with or without an index, on the embedded
//! pool and through workers, pushed and pulled; a killed run resumes its index too.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use crate::util::*;

const BLOCK: [&str; 2] = ["-b", "128K"];
/// Four chunks a point: a 3 MiB input gets six.
const SPAN: [&str; 2] = ["--index-span", "512K"];

/// gztool extracts `data[offset..]` at each offset, rapidgzip all of it, and so does
/// gzfleet's own parallel decompression, without a word (it warns of an index it
/// cannot use).
pub(crate) fn accepted(gz: &Path, gzi: &Path, data: &[u8], offsets: &[usize]) {
    let r = run(gzfleet()
        .args(["decompress", "-c", "-p", "2", "--index-file"])
        .arg(gzi)
        .arg(gz));
    assert_ok!(r);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert!(
        r.stdout == data,
        "gzfleet decompress with the index differs"
    );
    accepted_by_tools(gz, gzi, data, offsets);
}

/// gztool and rapidgzip alone (gzfleet's reader uses no index for several members).
fn accepted_by_tools(gz: &Path, gzi: &Path, data: &[u8], offsets: &[usize]) {
    // gztool builds an index when none is there: one must be there already.
    assert!(gzi.exists(), "{} was not written", gzi.display());
    for &offset in offsets {
        let out = Command::new("gztool")
            .arg("-I")
            .arg(gzi)
            .args(["-b", &offset.to_string()])
            .arg(gz)
            .stderr(Stdio::piped())
            .output()
            .expect("gztool must be installed");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "gztool -b {offset} failed: {said}");
        assert!(
            out.stdout == data[offset.min(data.len())..],
            "gztool -b {offset} with {} gives other bytes ({} of {})",
            gzi.display(),
            out.stdout.len(),
            data.len() - offset.min(data.len())
        );
    }
    let out = Command::new("rapidgzip")
        .args(["-P", "2", "--import-index"])
        .arg(gzi)
        .args(["-d", "-c"])
        .arg(gz)
        .output()
        .expect("rapidgzip (pip install rapidgzip) must be installed");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rapidgzip failed: {said}");
    assert!(
        out.stdout == data,
        "rapidgzip --import-index gives other bytes"
    );
}

/// Offsets across an input: its first bytes, a point exactly, mid-span, the last span.
fn offsets(len: usize) -> Vec<usize> {
    let mut v = vec![0, 1, 512 << 10, (512 << 10) + 777, len / 2, len - 1];
    v.retain(|&o| o < len.max(1));
    v
}

/// Writes a file with a fixed mtime, so copies of it look the same to workers.
fn put(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    set_mtime(path, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
}

/// Compresses `input` to `out` with `args` and `--index` (every `SPAN`), returning the
/// .gz and checking it against the same run without an index.
fn with_index(input: &Path, out: &Path, args: &[&str]) -> Vec<u8> {
    let plain = out.with_extension("plain.gz");
    assert_ok!(run(gzfleet()
        .arg("compress")
        .args(args)
        .arg("-o")
        .arg(&plain)
        .arg(input)));
    assert_ok!(run(gzfleet()
        .arg("compress")
        .args(args)
        .arg("--index")
        .args(SPAN)
        .arg("-o")
        .arg(out)
        .arg(input)));
    let gz = std::fs::read(out).unwrap();
    assert!(
        gz == std::fs::read(&plain).unwrap(),
        "--index changed the .gz ({args:?})"
    );
    assert_decodes(out, &std::fs::read(input).unwrap());
    gz
}

#[test]
fn compress_index_is_read_by_gztool_and_rapidgzip_locally_pushed_and_pulled() {
    let dir = Dir::new("index-modes");
    let data = mixed(3 << 20, 1101);
    let (shared, mounts) = (dir.join("shared"), [dir.join("m0"), dir.join("m1")]);
    for root in [&shared, &mounts[0], &mounts[1]] {
        put(&root.join("data"), &data);
    }
    let input = shared.join("data");
    let workers: Vec<Worker> = mounts
        .iter()
        .map(|m| Worker::start(&["--slots", "1", "--root", m.to_str().unwrap()]))
        .collect();
    let list = addrs(&workers.iter().collect::<Vec<_>>());
    let shared_root = shared.display().to_string();
    let pull = ["--workers", &list, "--pull", "--shared-root", &shared_root];
    let fleets: [(&str, &[&str]); 3] = [
        ("local", &[]),
        ("push", &["--workers", &list]),
        ("pull", &pull),
    ];
    let mut made = Vec::new();
    for independent in [false, true] {
        for (name, fleet) in fleets {
            // zlib-rs primes its chunks, so its points need windows; libdeflate (the
            // default) and -i never do.
            let mode = if independent {
                &["-i"][..]
            } else {
                &["--engine", "zlib-rs"][..]
            };
            let args = [&BLOCK[..], mode, fleet].concat();
            let out = dir.join(&format!("{name}-{independent}.gz"));
            let gz = with_index(&input, &out, &args);
            let gzi = dir.join(&format!("{name}-{independent}.gzi"));
            accepted(&out, &gzi, &data, &offsets(data.len()));
            made.push((independent, gz, std::fs::read(&gzi).unwrap()));
        }
    }
    // Every fleet makes the same .gz and the same index; -i's windows are empty, so
    // its index is a fraction of the other's.
    for (independent, gz, gzi) in &made {
        let first = made.iter().find(|m| m.0 == *independent).unwrap();
        assert!(
            gz == &first.1 && gzi == &first.2,
            "fleets differ (-i: {independent})"
        );
    }
    let (with_windows, without) = (made[0].2.len(), made[3].2.len());
    assert!(
        without * 10 < with_windows,
        "-i index {without} bytes, dictionary mode {with_windows}"
    );
}

#[test]
fn index_command_indexes_gzip_and_pigz_files_and_refuses_to_overwrite() {
    let dir = Dir::new("index-cmd");
    let data = text(4 << 20, 1102);
    let input = dir.file("data", &data);
    for (tool_name, args) in [("gzip", &["-c"][..]), ("pigz", &["-c", "-p", "2"][..])] {
        let gz = dir.join(&format!("{tool_name}.gz"));
        std::fs::write(&gz, tool(tool_name, args, &input)).unwrap();
        let r = run(gzfleet()
            .args(["index", "-v", "--index-span", "512K"])
            .arg(&gz));
        assert_ok!(r);
        assert!(r.stderr.contains("points"), "{}", r.stderr);
        let gzi = dir.join(&format!("{tool_name}.gzi"));
        accepted(&gz, &gzi, &data, &offsets(data.len()));
        // As gzip refuses an existing output: a warning, status 2, nothing touched.
        let before = std::fs::read(&gzi).unwrap();
        let again = run(gzfleet().arg("index").arg(&gz));
        assert_fails!(again, 2, "already exists; use -f");
        assert!(std::fs::read(&gzi).unwrap() == before);
        assert_ok!(run(gzfleet().args(["index", "-f"]).arg(&gz)));
        accepted(&gz, &gzi, &data, &[0, data.len() - 1]);
    }
    // Several members (gzip's a.gz b.gz > c.gz): one stream of points, as gztool.
    let both = dir.join("both.gz");
    let gz = std::fs::read(dir.join("gzip.gz")).unwrap();
    std::fs::write(
        &both,
        [&gz[..], &std::fs::read(dir.join("pigz.gz")).unwrap()].concat(),
    )
    .unwrap();
    let named = dir.join("elsewhere.idx");
    assert_ok!(run(gzfleet()
        .args(["index", "--index-span", "1M", "--index-file"])
        .arg(&named)
        .arg(&both)));
    let twice = [&data[..], &data].concat();
    accepted_by_tools(
        &both,
        &named,
        &twice,
        &[0, data.len() - 5, data.len() + 3, twice.len() - 1],
    );
}

#[test]
fn index_command_refuses_what_is_no_gzip_and_leaves_nothing() {
    let dir = Dir::new("index-bad");
    let data = text(600 << 10, 1103);
    let plain = dir.file("plain.gz", &data);
    let r = run(gzfleet().arg("index").arg(&plain));
    assert_fails!(r, 1, "plain.gz: not in gzip format");
    let gz = dir.file("cut.gz", &tool("gzip", &["-c"], &dir.file("d", &data)));
    let full = std::fs::read(&gz).unwrap();
    std::fs::write(&gz, &full[..full.len() / 2]).unwrap();
    let r = run(gzfleet().arg("index").arg(&gz));
    assert_fails!(r, 1, "cut.gz: invalid compressed data in member 1");
    let mut bad_crc = full.clone();
    let n = bad_crc.len();
    bad_crc[n - 5] ^= 0x40;
    std::fs::write(&gz, &bad_crc).unwrap();
    let r = run(gzfleet().arg("index").arg(&gz));
    assert_fails!(r, 1, "cut.gz: invalid compressed data in member 1");
    assert!(r.stderr.contains("check"), "zlib's words: {}", r.stderr);
    let r = run(gzfleet().args(["index", "-"]));
    assert_fails!(r, 1, "not stdin");
    // Garbage after the last member: gzip's warning and status; the members indexed.
    std::fs::write(&gz, [&full[..], b"garbage"].concat()).unwrap();
    let r = run(gzfleet().arg("index").arg(&gz));
    assert_fails!(r, 2, "trailing garbage ignored (7 bytes)");
    // gztool stops at garbage too: the index is judged on the members alone.
    std::fs::write(&gz, &full).unwrap();
    accepted(&gz, &dir.join("cut.gzi"), &data, &[0, 1000]);
    std::fs::remove_file(dir.join("cut.gzi")).unwrap();
    assert_eq!(
        dir.names(),
        ["cut.gz", "d", "plain.gz"],
        "an index was left"
    );
}

#[test]
fn stdout_names_its_index_and_small_inputs_get_one_point() {
    let dir = Dir::new("index-stdout");
    for (name, len) in [("empty", 0), ("one", 100_000), ("two", 200_000)] {
        let data = text(len, 1104);
        let input = dir.file(name, &data);
        let gzi = dir.join(&format!("{name}.idx"));
        let r = run(gzfleet()
            .args(["compress", "-c", "--index-file"])
            .arg(&gzi)
            .args(BLOCK)
            .arg(&input));
        assert_ok!(r);
        let plain = run(gzfleet().args(["compress", "-c"]).args(BLOCK).arg(&input));
        assert!(r.stdout == plain.stdout, "{name}: --index changed the .gz");
        let gz = dir.file(&format!("{name}.gz"), &r.stdout);
        accepted(&gz, &gzi, &data, &offsets(len.max(1)));
    }
    let input = dir.join("one");
    let r = run(gzfleet().args(["compress", "-c", "--index"]).arg(&input));
    assert_fails!(r, 1, "needs --index-file PATH");
    assert!(r.stdout.is_empty());
    let r = run(gzfleet()
        .args(["compress", "--index-file", "x.gzi"])
        .arg(&input)
        .arg(dir.join("two")));
    assert_fails!(r, 1, "--index-file names one index");
    let r = run(gzfleet()
        .args(["compress", "--index-span", "4M"])
        .arg(&input));
    assert_fails!(r, 1, "--index-span needs --index");
}

#[test]
fn several_inputs_each_get_their_index_and_an_existing_one_needs_force() {
    let dir = Dir::new("index-several");
    let (a, b) = (text(300_000, 1105), mixed(700_000, 1106));
    let (pa, pb) = (dir.file("a", &a), dir.file("b.tar", &b));
    std::fs::write(dir.join("b.tar.gzi"), b"mine").unwrap();
    let r = run(gzfleet()
        .args(["compress", "--index"])
        .args(BLOCK)
        .args(SPAN)
        .arg(&pa)
        .arg(&pb));
    assert_fails!(r, 2, "b.tar.gzi already exists");
    assert_eq!(std::fs::read(dir.join("b.tar.gzi")).unwrap(), b"mine");
    assert!(
        !dir.join("b.tar.gz").exists(),
        "an output without its index"
    );
    accepted(&dir.join("a.gz"), &dir.join("a.gzi"), &a, &[0, 299_999]);
    assert_ok!(run(gzfleet()
        .args(["compress", "-f", "--index"])
        .args(BLOCK)
        .args(SPAN)
        .arg(&pa)
        .arg(&pb)));
    accepted(
        &dir.join("b.tar.gz"),
        &dir.join("b.tar.gzi"),
        &b,
        &offsets(b.len()),
    );
    let left: Vec<String> = dir
        .names()
        .into_iter()
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The journal's durable chunk count, 0 until there is one.
fn durable_chunks(journal: &Path) -> u64 {
    std::fs::read_to_string(journal)
        .ok()
        .filter(|t| t.contains("\"output_bytes\""))
        .map_or(0, |t| json_number(&t.replace(": ", ":"), "chunks"))
}

#[test]
fn a_killed_run_resumes_its_index() {
    let dir = Dir::new("index-resume");
    let data = mixed(6 << 20, 1107);
    let input = dir.file("data", &data);
    let out = dir.join("data.gz");
    let gzi = dir.join("data.gzi");
    // Its 30th call never answers: the run stalls with chunks durable before it.
    let worker = Worker::start_faulty(&["--slots", "1", "--fault-hang-on", "30"]);
    let args = [
        &BLOCK[..],
        &SPAN,
        &["--index", "--sync-interval", "10ms", "-q"],
    ]
    .concat();
    let mut job = gzfleet()
        .arg("compress")
        .args(&args)
        .args(["--workers", &worker.addr])
        .arg(&input)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal = PathBuf::from(format!("{}.gzfleet-journal", out.display()));
    while durable_chunks(&journal) < 20 {
        assert!(
            job.try_wait().unwrap().is_none(),
            "the run ended on its own"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    job.kill().unwrap();
    job.wait().unwrap();
    assert!(
        !out.exists() && !gzi.exists(),
        "a killed run left complete-looking files"
    );
    assert!(PathBuf::from(format!("{}.gzfleet-partial", gzi.display())).exists());
    let r = run(gzfleet()
        .arg("compress")
        .args(&args)
        .args(["--resume", "-v"])
        .arg(&input));
    assert_ok!(r);
    assert!(r.stderr.contains("resuming after chunk"), "{}", r.stderr);
    let whole = compress_file(&dir, &input, &BLOCK);
    assert!(std::fs::read(&out).unwrap() == whole, "resumed .gz differs");
    accepted(&out, &gzi, &data, &offsets(data.len()));
    // The index is the one an uninterrupted run writes.
    let again = dir.join("again.gz");
    with_index(&input, &again, &BLOCK);
    assert!(std::fs::read(dir.join("again.gzi")).unwrap() == std::fs::read(&gzi).unwrap());
}

#[test]
fn verify_catches_a_worker_lying_about_a_window_in_pull_mode() {
    let dir = Dir::new("index-liar");
    let data = mixed(1 << 20, 1108);
    let (shared, mount) = (dir.join("shared"), dir.join("m0"));
    for root in [&shared, &mount] {
        put(&root.join("data"), &data);
    }
    let liar = Worker::start_faulty(&[
        "--slots",
        "1",
        "--root",
        mount.to_str().unwrap(),
        "--fault-wrong-window-from",
        "1",
    ]);
    let shared_root = shared.display().to_string();
    let pull = [
        "--engine",
        "zlib-rs",
        "--index",
        "--pull",
        "--shared-root",
        &shared_root,
        "--workers",
        &liar.addr,
        "--max-attempts",
        "2",
    ];
    let out = dir.join("out.gz");
    let args = [&BLOCK[..], &SPAN, &pull].concat();
    let r = run(gzfleet()
        .arg("compress")
        .args(&args)
        .arg("--verify")
        .arg("-o")
        .arg(&out)
        .arg(shared.join("data")));
    assert_fails!(r, 1, "its window is not the input before it");
    assert!(!out.exists() && !dir.join("out.gzi").exists());
    // Unverified, a lie reaches only the index: the .gz is the honest one. (-f: the
    // failed run kept its durable part, index and all, for --resume.)
    assert_ok!(run(gzfleet()
        .arg("compress")
        .args(&args)
        .arg("-f")
        .arg("-o")
        .arg(&out)
        .arg(shared.join("data"))));
    let honest = compress_file(
        &dir,
        &shared.join("data"),
        &[&BLOCK[..], &["--engine", "zlib-rs"]].concat(),
    );
    assert!(std::fs::read(&out).unwrap() == honest);
    // And gzfleet's reader finds the lie, says so, and still gives the right bytes.
    let r = run(gzfleet().args(["decompress", "-c", "-p", "2"]).arg(&out));
    assert!(r.stdout == data, "a lying window changed the output");
    assert!(
        r.stderr.contains("window is not the data before it"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_object_output_gets_its_index_where_index_file_says() {
    let s3 = moto();
    let bucket = s3.bucket("indexed");
    let dir = Dir::new("index-s3");
    let data = mixed(2 << 20, 1109);
    let input = dir.file("data", &data);
    let url = format!("s3://{bucket}/data.gz");
    let gzi = dir.join("object.gzi");
    let with_store = |cmd: &mut Command| {
        cmd.envs(moto().env());
    };
    let mut beside = gzfleet();
    with_store(&mut beside);
    let r = run(beside
        .args(["compress", "--index", "-o", &url])
        .args(BLOCK)
        .arg(&input));
    assert_fails!(r, 1, "an index is not written beside an object");
    assert!(s3.get(&bucket, "data.gz").is_none());
    let mut named = gzfleet();
    with_store(&mut named);
    assert_ok!(run(named
        .args(["compress", "-o", &url, "--index-file"])
        .arg(&gzi)
        .args(BLOCK)
        .args(SPAN)
        .arg(&input)));
    let gz = dir.file("fetched.gz", &s3.get(&bucket, "data.gz").unwrap());
    assert!(std::fs::read(&gz).unwrap() == compress_file(&dir, &input, &BLOCK));
    accepted(&gz, &gzi, &data, &offsets(data.len()));
}
