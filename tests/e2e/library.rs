//! The Rust library (`gzfleet_coordinator::api`) beside the command: the same bytes
//! for the same settings, through the embedded pool and through real gzfleet-worker
//! processes over gRPC, and its index the one `--index-file` writes.

use std::io::{Read, Write};
use std::time::UNIX_EPOCH;

use gzfleet_coordinator::{Reader, WriterBuilder};

use crate::util::*;

fn through_library(b: &WriterBuilder, data: &[u8]) -> Vec<u8> {
    let mut w = b.build(Vec::new()).expect("a writer");
    // Uneven pieces: how the caller writes must not matter.
    for piece in data.chunks(100_003) {
        w.write_all(piece).unwrap();
    }
    w.finish_into_inner().unwrap().1
}

fn through_command(args: &[&str], data: &[u8]) -> Vec<u8> {
    let r = run_with(gzfleet().arg("compress").arg("-c").args(args), Some(data));
    assert_ok!(r);
    r.stdout
}

#[test]
fn the_library_writes_the_bytes_the_command_writes() {
    let data = mixed(3 << 20, 41);
    let cases: &[(&[&str], WriterBuilder)] = &[
        (&[], WriterBuilder::new()),
        (
            &["-1", "-b", "128K"],
            WriterBuilder::new().level(1).block_size(128 << 10),
        ),
        (
            &["-9", "-p", "3", "-b", "256K"],
            WriterBuilder::new()
                .level(9)
                .threads(3)
                .block_size(256 << 10),
        ),
        (
            &["-6", "--engine", "libdeflate", "-b", "512K"],
            WriterBuilder::new()
                .engine("libdeflate")
                .block_size(512 << 10),
        ),
        (
            &["--level", "12", "-b", "128K"],
            WriterBuilder::new().level(12).block_size(128 << 10),
        ),
        (
            &["-i", "-b", "128K"],
            WriterBuilder::new().independent(true).block_size(128 << 10),
        ),
    ];
    for (args, builder) in cases {
        let command = through_command(args, &data);
        let library = through_library(builder, &data);
        assert!(
            command == library,
            "{args:?}: the library's bytes differ from the command's"
        );
        assert_decodes(&Dir::new("lib-same").file("x.gz", &library), &data);
    }
}

#[test]
fn a_named_file_and_its_index_as_the_command_writes_them() {
    let dir = Dir::new("lib-file");
    let data = text(2 << 20, 42);
    let input = dir.file("data", &data);
    let r = run(gzfleet()
        .args([
            "compress",
            "-b",
            "128K",
            "--index",
            "--index-span",
            "512K",
            "-o",
        ])
        .arg(dir.join("cli.gz"))
        .arg(&input));
    assert_ok!(r);
    let mtime = std::fs::metadata(&input).unwrap().modified().unwrap();
    let secs = mtime.duration_since(UNIX_EPOCH).unwrap().as_secs() as u32;
    let mut w = WriterBuilder::new()
        .block_size(128 << 10)
        .name("data")
        .mtime(secs)
        .index(true)
        .index_span(512 << 10)
        .create(dir.join("lib.gz"))
        .unwrap();
    w.write_all(&data).unwrap();
    let done = w.finish().unwrap();
    let (cli, lib) = (
        std::fs::read(dir.join("cli.gz")).unwrap(),
        std::fs::read(dir.join("lib.gz")).unwrap(),
    );
    assert!(cli == lib, "file bytes differ");
    assert_eq!(done.output_bytes, lib.len() as u64);
    assert!(
        std::fs::read(dir.join("cli.gzi")).unwrap() == std::fs::read(dir.join("lib.gzi")).unwrap(),
        "index bytes differ"
    );
    // The command reads the library's file with its index, and the library the
    // command's: the index's points proved against the data.
    let d = run(gzfleet()
        .args(["decompress", "-c", "-v"])
        .arg(dir.join("lib.gz")));
    assert_ok!(d);
    assert!(d.stdout == data);
    assert!(
        d.stderr.contains("spans of its index in parallel"),
        "{}",
        d.stderr
    );
    let mut back = Vec::new();
    let mut r = Reader::open(dir.join("cli.gz")).unwrap();
    r.read_to_end(&mut back).unwrap();
    assert!(back == data);
    assert!(r.summary().unwrap().indexed_spans >= 4);
}

#[test]
fn through_real_workers_the_library_writes_the_pools_bytes() {
    let dir = Dir::new("lib-fleet");
    let token = dir.file("token", b"lib-secret\n");
    let (w1, w2) = (
        Worker::start(&["--slots", "1", "--token-file", &token.to_string_lossy()]),
        Worker::start(&["--slots", "2", "--token-file", &token.to_string_lossy()]),
    );
    let data = mixed(4 << 20, 43);
    let builder = WriterBuilder::new().block_size(128 << 10);
    let pool = through_library(&builder, &data);
    let fleet = builder
        .clone()
        .workers([w1.addr.clone(), w2.addr.clone()])
        .token_file(&token);
    let remote = through_library(&fleet, &data);
    assert!(remote == pool, "the fleet's bytes differ from the pool's");
    assert_decodes(&dir.file("remote.gz", &remote), &data);
    // Without the token the workers refuse, and the library says so before writing.
    let refused = builder
        .workers([w1.addr.clone()])
        .token_file(dir.file("wrong", b"not-it\n"))
        .build(Vec::new())
        .err()
        .expect("refused");
    assert!(
        refused.to_string().contains("no worker reachable"),
        "{refused}"
    );
}

#[test]
fn a_worker_killed_mid_write_costs_nothing_of_the_output() {
    let data = mixed(8 << 20, 44);
    let builder = WriterBuilder::new().block_size(128 << 10);
    let pool = through_library(&builder, &data);
    let (mut doomed, steady) = (
        Worker::start(&["--slots", "2"]),
        Worker::start(&["--slots", "1"]),
    );
    let mut w = builder
        .workers([doomed.addr.clone(), steady.addr.clone()])
        .build(Vec::new())
        .unwrap();
    let (first, rest) = data.split_at(3 << 20);
    w.write_all(first).unwrap();
    doomed.kill();
    w.write_all(rest).unwrap();
    let (_, gz) = w.finish_into_inner().unwrap();
    assert!(gz == pool, "a lost worker changed the bytes");
    drop(steady);
}
