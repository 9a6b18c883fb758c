//! The formats gzip -d reads besides its own, side by side with the system's gzip 1.12:
//! .Z files from a real compress (Debian's ncompress) at every code width and with
//! block-mode resets, pack files encoded from the documented format (no packaged
//! program writes them), zip files from a real zip; whole, cut short and corrupted.
//! Same exit status, same output bytes, same files left.

use std::path::Path;
use std::process::Command;

use crate::side_by_side::*;
use crate::util::*;

/// Text, then noise: compress's ratio drops in the noise and block mode clears the
/// table (code 256); 16-bit tables fill well before the end.
fn sample() -> Vec<u8> {
    let mut data = text(400_000, 11);
    data.extend(random(150_000, 12));
    data.extend(text(200_000, 13));
    data
}

fn write(dir: &Path, name: &str, data: &[u8]) {
    std::fs::write(dir.join(name), data).unwrap();
}

/// `compress ARGS` of `data`, as the real compress writes it.
fn compressed(data: &[u8], args: &[&str]) -> Vec<u8> {
    let r = run_with(Command::new("compress").args(args).arg("-cf"), Some(data));
    assert!(
        r.status.code() == Some(0),
        "compress {args:?} (ncompress must be installed): {}",
        r.stderr
    );
    r.stdout
}

/// The twins agree on every way of reading `name`: to stdout, tested, listed, and
/// decompressed to a file by gzip's name (input removed) and gzfleet's (-k).
fn every_way(case: &str, name: &str, bytes: &[u8], needle: &str) {
    let setup = |dir: &Path| write(dir, name, bytes);
    Twins::new(&format!("{case}-dc"), setup).agree(As::Root, &["-dc", name], needle);
    Twins::new(&format!("{case}-t"), setup).agree(As::Root, &["-t", name], needle);
    Twins::new(&format!("{case}-d"), setup).agree_as("gzip", &["-d", name], needle);
    Twins::new(&format!("{case}-gunzip"), setup).agree_as("gunzip", &["-k", name], needle);
}

#[test]
fn compress_at_every_width_with_and_without_block_mode() {
    let data = sample();
    // Debian's ncompress 4.2.4.6 writes, at -b 9 once the table is full and with -C
    // (no block mode) at any width, what neither its own uncompress nor gzip reads:
    // for those, the same verdict as gzip's is what is asked.
    for bits in 9..=16 {
        let b = bits.to_string();
        for (mode, args) in [
            ("block", vec!["-b", &b]),
            ("nonblock", vec!["-C", "-b", &b]),
        ] {
            let z = compressed(&data, &args);
            let twins = Twins::new(&format!("z{bits}-{mode}"), |dir| write(dir, "f.Z", &z));
            let (gzip, ours) = twins.run(As::Root, &["-dc", "f.Z"]);
            let needle = match gzip.run.status.code() {
                Some(0) => "",
                _ => "corrupt input",
            };
            let (gzip, _) = agree(gzip, ours, &format!("-b {bits} {mode}"), needle);
            if bits > 9 && mode == "block" {
                assert!(
                    gzip.run.stdout == data,
                    "-b {bits} {mode}: gzip read it wrong"
                );
            }
        }
    }
    // Small enough for 9 bits; every way of reading it.
    let small = text(400, 14);
    every_way("z9-small", "s.Z", &compressed(&small, &["-b", "9"]), "");
    every_way("z16", "f.Z", &compressed(&data, &[]), "");
    same_list("z-list", "f.Z", &compressed(&data, &[]));
}

#[test]
fn compress_files_cut_short_or_corrupted() {
    let data = sample();
    let z = compressed(&data, &["-b", "12"]);
    // LZW has no end marker nor check: a file cut short is shorter data, to gzip too.
    for cut in [2, 3, 4, 1000, z.len() / 2] {
        eprintln!("cut {cut}");
        let name = format!("z-cut{cut}");
        let needle = if cut == 2 {
            "unexpected end of file"
        } else {
            ""
        };
        Twins::new(&name, |dir| write(dir, "f.Z", &z[..cut])).agree(
            As::Root,
            &["-dc", "f.Z"],
            needle,
        );
        Twins::new(&name, |dir| write(dir, "f.Z", &z[..cut])).agree_as(
            "gzip",
            &["-d", "f.Z"],
            needle,
        );
    }
    for (at, flip) in [(3, 0xff), (100, 0xff), (z.len() / 3, 0x55)] {
        let mut bad = z.clone();
        bad[at] ^= flip;
        let name = format!("z-bad{at}");
        let (gzip, _) =
            Twins::new(&name, |dir| write(dir, "f.Z", &bad)).run(As::Root, &["-t", "f.Z"]);
        let needle = if gzip.run.status.code() == Some(1) {
            "corrupt input"
        } else {
            ""
        };
        every_way(&name, "f.Z", &bad, needle);
    }
    let mut wide = z.clone();
    wide[2] = 0x91;
    let needle = "compressed with 17 bits, can only handle 16 bits";
    let setup = |dir: &Path| write(dir, "f.Z", &wide);
    Twins::new("z-17bits", setup).agree(As::Root, &["-dc", "f.Z"], needle);
    Twins::new("z-17bits", setup).agree(As::Root, &["-t", "f.Z"], needle);
    // Here gzip 1.12 exits 1 yet removes f.Z, leaving an empty f: the input lost. We
    // part with it on purpose: the input stays, nothing is written.
    let gzip_named = Command::new(named("gzip"));
    let twins = Twins::new("z-17bits-d", setup);
    let (gzip, ours) = twins.run_as("gzip", gzip_named, As::Root, &["-d", "f.Z"]);
    assert_eq!(
        (ours.run.status.code(), gzip.run.status.code()),
        (Some(1), Some(1))
    );
    assert!(ours.run.stderr.contains(needle), "{}", ours.run.stderr);
    let left: Vec<&str> = ours.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(left, ["f.Z"]);
}

#[test]
fn pack_files_whole_cut_short_and_corrupted() {
    let data = text(200_000, 15);
    let z = gzfleet_coordinator::testing::pack(&data);
    let (gzip, _) =
        Twins::new("pack", |dir| write(dir, "f.z", &z)).agree(As::Root, &["-dc", "f.z"], "");
    assert!(
        gzip.run.stdout == data,
        "gzip reads the pack file the test wrote"
    );
    every_way("pack", "f.z", &z, "");
    same_list("pack-list", "f.z", &z);
    for cut in [2, 6, 9, 20, z.len() / 2, z.len() - 1] {
        every_way(
            &format!("pack-cut{cut}"),
            "f.z",
            &z[..cut],
            "unexpected end of file",
        );
    }
    let mut long = z.clone();
    long[5] ^= 1;
    every_way("pack-length", "f.z", &long, "length error");
    let mut bits = z.clone();
    bits[6] = 30;
    every_way(
        "pack-bits",
        "f.z",
        &bits,
        "Huffman code bit length out of range",
    );
}

/// Zip files a real zip wrote: one deflated entry, one stored, two entries, and one
/// written to a pipe (`zip - -`), with the data they hold.
struct Zips {
    data: Vec<u8>,
    deflated: Vec<u8>,
    stored: Vec<u8>,
    two: Vec<u8>,
    streamed: Vec<u8>,
}

fn zips() -> Zips {
    let dir = Dir::new("zips");
    let data = text(300_000, 16);
    dir.file("data", &data);
    dir.file("other", b"a second entry");
    let zip = |name: &str, args: &[&str]| {
        let r = run(Command::new("zip")
            .args(["-q", name])
            .args(args)
            .current_dir(&dir.path));
        assert_ok!(r);
        std::fs::read(dir.join(name)).unwrap()
    };
    let streamed = run_with(Command::new("zip").args(["-q", "-", "-"]), Some(&data));
    assert_ok!(streamed);
    Zips {
        deflated: zip("d.zip", &["data"]),
        stored: zip("s.zip", &["-0", "data"]),
        two: zip("two.zip", &["data", "other"]),
        streamed: streamed.stdout,
        data,
    }
}

#[test]
fn zip_files_as_gzip_reads_them() {
    let Zips {
        data,
        deflated,
        stored,
        two,
        streamed,
    } = zips();
    for (case, bytes, needle) in [("zip-d", &deflated, ""), ("zip-s", &stored, "")] {
        let (gzip, _) = Twins::new(case, |d| write(d, "f.zip", bytes)).agree(
            As::Root,
            &["-dc", "f.zip"],
            needle,
        );
        assert!(gzip.run.stdout == data);
        same_list(case, "f.zip", bytes);
        Twins::new(case, |d| write(d, "f.zip", bytes)).agree(As::Root, &["-t", "f.zip"], needle);
        Twins::new(case, |d| write(d, "f.zip", bytes)).agree_as(
            "gzip",
            &["-d", "-S", ".zip", "f.zip"],
            needle,
        );
        Twins::new(case, |d| write(d, "f.zip", bytes)).agree_as(
            "gunzip",
            &["f.zip"],
            "unknown suffix",
        );
    }
    // More than one entry: the first to stdout with a warning; refused to a file.
    Twins::new("zip-two", |d| write(d, "f.zip", &two)).agree(
        As::Root,
        &["-dc", "f.zip"],
        "has more than one entry--rest ignored",
    );
    Twins::new("zip-two", |d| write(d, "f.zip", &two)).agree_as(
        "gzip",
        &["-d", "-S", ".zip", "f.zip"],
        "has more than one entry -- unchanged",
    );
    // zip - - writes zip64 sizes in its data descriptor, which gzip misreads: alike.
    Twins::new("zip-stream", |d| write(d, "f.zip", &streamed)).agree(
        As::Root,
        &["-dc", "f.zip"],
        "length error",
    );
}

#[test]
fn zip_files_cut_short_or_corrupted() {
    let deflated = zips().deflated;
    let cuts = [
        (10, "not a valid zip file"),
        (40, "not a valid zip file"),
        (100, "unexpected end of file"),
        (deflated.len() / 2, "unexpected end of file"),
    ];
    for (cut, needle) in cuts {
        Twins::new("zip-cut", |d| write(d, "f.zip", &deflated[..cut])).agree_as(
            "gzip",
            &["-d", "-S", ".zip", "f.zip"],
            needle,
        );
    }
    let mut bad = deflated.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0xff;
    let (gzip, ours) =
        Twins::new("zip-bad", |d| write(d, "f.zip", &bad)).run(As::Root, &["-t", "f.zip"]);
    assert_eq!(
        (ours.run.status.code(), gzip.run.status.code()),
        (Some(1), Some(1))
    );
}

#[test]
fn members_of_other_formats_after_a_gzip_member() {
    let data = text(50_000, 17);
    let mut mixed = gz_of(&data);
    mixed.extend(gzfleet_coordinator::testing::pack(b"then packed\n"));
    mixed.extend(compressed(b"then compressed\n", &[]));
    let (gzip, _) =
        Twins::new("mixed", |d| write(d, "m.gz", &mixed)).agree(As::Root, &["-dc", "m.gz"], "");
    assert!(gzip.run.stdout.ends_with(b"then packed\nthen compressed\n"));
    // A broken member of another format after a gzip one is an error, not garbage.
    let mut broken = gz_of(&data);
    broken.extend_from_slice(&[0x1f, 0x1e, 0, 0]);
    every_way("broken-pack", "m.gz", &broken, "unexpected end of file");
    let mut broken = gz_of(&data);
    broken.extend_from_slice(&[0x1f, 0x9d, 0x90, 0xff, 0xff, 0xff, 0xff]);
    every_way("broken-z", "m.gz", &broken, "corrupt input");
}

/// `-l` and `-lv` print what gzip prints: its columns, its method names, and for these
/// formats its unknown CRC.
fn same_list(case: &str, name: &str, bytes: &[u8]) {
    let twins = Twins::new(case, |dir| write(dir, name, bytes));
    for args in [["-l", name], ["-lv", name]] {
        let (gzip, ours) = twins.run(As::Root, &args);
        assert_ok!(ours.run);
        assert_eq!(
            String::from_utf8_lossy(&ours.run.stdout),
            String::from_utf8_lossy(&gzip.run.stdout),
            "{case}: {args:?}"
        );
    }
}

fn gz_of(data: &[u8]) -> Vec<u8> {
    let r = run_with(Command::new("gzip").arg("-c"), Some(data));
    assert_ok!(r);
    r.stdout
}
