//! The chunk engines end to end: every engine at every level it offers, judged by gzip,
//! pigz and Python's gzip module; the bytes fixed by the engine whatever the thread
//! count, the workers and what those workers compressed before; and a worker whose
//! engine differs refused, never mixed in.

use std::process::Command;

use crate::util::*;

/// (engine, its levels): every engine this build has.
const ENGINES: &[(&str, std::ops::RangeInclusive<u32>)] = &[
    ("zlib-rs", 0..=9),
    ("libdeflate", 0..=12),
    #[cfg(feature = "isal")]
    ("isal", 0..=3),
];

/// The standard vectors, with -b 128K: empty, one byte, the 32 KiB window +-1, a
/// block +-1, incompressible, compressible over many chunks, and a mix.
fn vectors(dir: &Dir) -> Vec<(String, Vec<u8>)> {
    let text = text(1 << 20, 3);
    let mut v = vec![
        ("empty".to_string(), Vec::new()),
        ("one".to_string(), b"x".to_vec()),
    ];
    for n in [32767, 32768, 32769, 131071, 131072, 131073] {
        v.push((format!("text-{n}"), text[..n].to_vec()));
    }
    v.push(("random".into(), random(300_000, 5)));
    v.push(("text-many".into(), text));
    v.push(("mixed".into(), mixed(600_000, 9)));
    for (name, data) in &v {
        dir.file(name, data);
    }
    v
}

#[test]
fn every_engine_at_every_level_is_read_by_gzip_pigz_and_python() {
    let dir = Dir::new("engines-levels");
    let vectors = vectors(&dir);
    let mut pairs = String::new();
    for (engine, levels) in ENGINES {
        for level in levels.clone() {
            for (name, data) in &vectors {
                let gz = dir.join(&format!("{name}.{engine}.{level}.gz"));
                let r = run(gzfleet()
                    .args(["compress", "-b", "128K", "--engine", engine])
                    .args(["--level", &level.to_string(), "-o"])
                    .arg(&gz)
                    .arg(dir.join(name)));
                assert_ok!(r);
                for decoder in ["gzip", "pigz"] {
                    let back = tool(decoder, &["-dc"], &gz);
                    assert!(&back == data, "{decoder}: {engine} -{level} {name}");
                }
                pairs.push_str(&format!("{}\t{}\n", gz.display(), dir.join(name).display()));
            }
        }
    }
    let list = dir.file("pairs", pairs.as_bytes());
    let python = "import gzip, sys\n\
        n = 0\n\
        for line in open(sys.argv[1]):\n\
        \x20   gz, raw = line.rstrip('\\n').split('\\t')\n\
        \x20   assert gzip.decompress(open(gz, 'rb').read()) == open(raw, 'rb').read(), gz\n\
        \x20   n += 1\n\
        print(n)\n";
    let r = run(Command::new("python3").args(["-c", python]).arg(&list));
    assert_ok!(r);
    let checked: usize = String::from_utf8_lossy(&r.stdout).trim().parse().unwrap();
    assert_eq!(checked, pairs.lines().count());
}

#[test]
fn libdeflate_is_smaller_than_zlib_rs_at_level_1_and_reaches_level_12() {
    let dir = Dir::new("engines-sizes");
    let data = mixed(4 << 20, 21);
    let input = dir.file("data", &data);
    let size = |args: &[&str]| compress_file(&dir, &input, args).len();
    // What the engines are for: zlib-rs's level 1 "quick" strategy is far larger.
    let zlib1 = size(&["--engine", "zlib-rs", "-1"]);
    let ld1 = size(&["--engine", "libdeflate", "-1"]);
    assert!(
        ld1 * 100 < zlib1 * 95,
        "libdeflate -1 {ld1} vs zlib-rs -1 {zlib1}"
    );
    let ld9 = size(&["--engine", "libdeflate", "-9"]);
    let ld12 = size(&["--level", "12"]);
    assert!(ld12 < ld9, "level 12 {ld12} vs level 9 {ld9}");
    // Level 12 with no engine named is libdeflate's; gzip's XFL says "best".
    let twelve = compress_file(&dir, &input, &["--level", "12"]);
    assert_eq!(
        twelve,
        compress_file(&dir, &input, &["--level", "12", "--engine", "libdeflate"])
    );
    assert_eq!(twelve[8], 2, "XFL");
    assert_decodes(&dir.file("12.gz", &twelve), &data);
}

#[test]
fn levels_and_engines_that_do_not_exist_are_refused_clearly() {
    let dir = Dir::new("engines-refused");
    let input = dir.file("data", b"some data");
    for (args, names) in [
        (
            &["--engine", "zlib-rs", "--level", "11"][..],
            "level 11 needs --engine libdeflate",
        ),
        (
            &["--engine", "zopfli"][..],
            "--engine zopfli: no such engine",
        ),
        (&["--level", "13"][..], "13"),
    ] {
        let r = run(gzfleet().arg("compress").args(args).arg(&input));
        assert_fails!(r, 1, names);
        assert!(!dir.join("data.gz").exists(), "{args:?} left an output");
    }
}

/// Each engine's bytes are the same on 1 and 3 threads and on two real workers, which
/// compress every level in turn and then the first again: state left in a reused
/// engine (the zlib-rs reset bug was this) must not change the bytes.
#[test]
fn each_engine_is_deterministic_across_threads_workers_and_reuse() {
    let dir = Dir::new("engines-determinism");
    let data = mixed(3 << 20, 17);
    let input = dir.file("data", &data);
    let (a, b) = (
        Worker::start(&["--slots", "2"]),
        Worker::start(&["--slots", "1"]),
    );
    let fleet = addrs(&[&a, &b]);
    // libdeflate: each parser, and the ladder's own rungs (10: one optimization pass).
    let engines: &[(&str, &[u32])] = &[
        ("libdeflate", &[1, 6, 9, 10, 11, 12, 1]),
        ("zlib-rs", &[1, 6, 9, 1]),
        #[cfg(feature = "isal")]
        ("isal", &[1, 0, 3, 1]),
    ];
    for &(engine, levels) in engines {
        let mut seen = Vec::new();
        for &level in levels {
            let args = [
                "-b",
                "128K",
                "--engine",
                engine,
                "--level",
                &level.to_string(),
            ];
            let one = compress_file(&dir, &input, &[&args[..], &["-p", "1"]].concat());
            let three = compress_file(&dir, &input, &[&args[..], &["-p", "3"]].concat());
            let workers =
                compress_file(&dir, &input, &[&args[..], &["--workers", &fleet]].concat());
            assert!(one == three, "{engine} -{level}: -p 3 differs from -p 1");
            assert!(
                one == workers,
                "{engine} -{level}: workers differ from -p 1"
            );
            seen.push(one);
        }
        assert!(
            seen[0] == seen[levels.len() - 1],
            "{engine}: level 1 changed after the other levels ran"
        );
        assert_decodes(&dir.file("seen.gz", &seen[1]), &data);
    }
}

/// A worker whose engine has another id, or that lacks the engine, is left out with
/// the reason; the job's bytes are exactly the embedded pool's. With no suitable
/// worker at all the job fails, naming why.
#[test]
fn a_worker_with_another_engine_is_refused_never_mixed() {
    let dir = Dir::new("engines-mismatch");
    let data = text(2 << 20, 8);
    let input = dir.file("data", &data);
    let honest = Worker::start(&[]);
    let differs = Worker::start_faulty(&["--fault-engine-differs", "libdeflate"]);
    let missing = Worker::start_faulty(&["--fault-engine-missing", "libdeflate"]);
    let args = ["-b", "128K", "--engine", "libdeflate", "-6"];
    let local = compress_file(&dir, &input, &args);
    let out = dir.join("mixed.gz");
    let stats = dir.join("stats.json");
    let r = run(gzfleet()
        .arg("compress")
        .args(args)
        .args([
            "--workers",
            &addrs(&[&honest, &differs, &missing]),
            "--stats-json",
        ])
        .arg(&stats)
        .arg("-o")
        .arg(&out)
        .arg(&input));
    assert_ok!(r);
    assert!(
        std::fs::read(&out).unwrap() == local,
        "not the embedded pool's bytes"
    );
    assert!(r.stderr.contains("needs 'libdeflate;"), "{}", r.stderr);
    assert!(r.stderr.contains("no engine 'libdeflate'"), "{}", r.stderr);
    let json = std::fs::read_to_string(&stats).unwrap();
    assert_eq!(worker_chunks(&json, &addrs(&[&differs])), 0);
    assert_eq!(worker_chunks(&json, &addrs(&[&missing])), 0);
    assert_eq!(worker_chunks(&json, &addrs(&[&honest])), 16);
    // The same workers all suit a zlib-rs job: the difference was libdeflate's only.
    let r = run(gzfleet()
        .args(["compress", "-b", "128K", "--engine", "zlib-rs", "-c"])
        .args(["--workers", &addrs(&[&differs, &missing])])
        .arg(&input));
    assert_ok!(r);
    let r = run(gzfleet()
        .arg("compress")
        .args(args)
        .args(["--workers", &addrs(&[&differs, &missing]), "-c"])
        .arg(&input));
    assert_fails!(r, 1, "no engine 'libdeflate'");
    assert!(r.stdout.is_empty(), "output from refused workers");
}

/// `gzfleet test` walks the blocks of a damaged member: a chunk that lost its sync
/// marker is reported at the byte where the blocks break, after the last whole chunk.
#[test]
fn test_names_where_a_chunk_lost_its_sync_marker() {
    let dir = Dir::new("engines-blockcheck");
    let data = text(1 << 20, 4);
    let input = dir.file("data", &data);
    let mut gz = compress_file(&dir, &input, &["-b", "128K", "-n"]);
    let markers: Vec<usize> = gz
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0, 0, 0xff, 0xff])
        .map(|(i, _)| i)
        .collect();
    assert!(markers.len() >= 3, "{markers:?}");
    let (first_end, second) = (markers[0] + 4, markers[1]);
    gz.drain(second..second + 4);
    let damaged = dir.file("damaged.gz", &gz);
    let r = run(gzfleet().arg("test").arg(&damaged));
    assert_fails!(
        r,
        1,
        &format!("whole up to the sync marker ending at byte {first_end}")
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    // gzip agrees the file is damaged.
    let gzip = Command::new("gzip")
        .arg("-t")
        .arg(&damaged)
        .output()
        .unwrap();
    assert!(!gzip.status.success());
}
