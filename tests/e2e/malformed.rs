//! Malformed, hostile and unusual gzip files. For each, `gzfleet test`, `list` and
//! `decompress` (to stdout and to a file) give one line that names the file and the
//! problem, the exit status gzip gives, bounded memory, and no panic; a failed
//! decompression leaves nothing that looks like output. gzip 1.12 judges every file
//! alongside (`gzip -t` and `gzip -l`): where it fails we fail, where it warns (exit 2)
//! we warn, where it accepts we accept. Where our words or our output differ from
//! gzip's, a comment at the case says so and why.

use std::io::Write;

use crate::util::*;

// Whole streams (members, what follows them, headers, sizes): malformed_members.rs,
// with the helpers here.

pub(crate) const FHCRC: u8 = 2;
pub(crate) const FEXTRA: u8 = 4;
pub(crate) const FNAME: u8 = 8;
pub(crate) const FCOMMENT: u8 = 16;

/// Peak memory any run here may use. A decoder that buffered a field, a member or its
/// output would pass this at once with the large cases; ours streams through fixed
/// buffers of a few hundred KiB.
pub(crate) const MEMORY_BOUND: u64 = 64 << 20;

/// Raw deflate of `data` (level 6), final block included.
pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A member header: the 10 fixed bytes with `flags`, then the optional fields those
/// flags name, in RFC 1952's order. `hcrc`: Some(true) a right header CRC, Some(false)
/// a wrong one.
pub(crate) fn header(
    flags: u8,
    extra: Option<&[u8]>,
    name: Option<&[u8]>,
    comment: Option<&[u8]>,
    hcrc: Option<bool>,
) -> Vec<u8> {
    let flags = flags
        | extra.map_or(0, |_| FEXTRA)
        | name.map_or(0, |_| FNAME)
        | comment.map_or(0, |_| FCOMMENT)
        | hcrc.map_or(0, |_| FHCRC);
    let mut h = vec![0x1f, 0x8b, 8, flags, 0x78, 0x56, 0x34, 0x12, 0, 3];
    if let Some(extra) = extra {
        h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        h.extend_from_slice(extra);
    }
    for field in [name, comment].into_iter().flatten() {
        h.extend_from_slice(field);
        h.push(0);
    }
    if let Some(right) = hcrc {
        let crc = crc32fast::hash(&h) as u16 ^ u16::from(!right);
        h.extend_from_slice(&crc.to_le_bytes());
    }
    h
}

/// A whole member: `head`, the data deflated, its CRC-32 and length.
pub(crate) fn member_with(head: Vec<u8>, data: &[u8]) -> Vec<u8> {
    let mut m = head;
    m.extend(deflate(data));
    m.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    m.extend_from_slice(&(data.len() as u32).to_le_bytes());
    m
}

pub(crate) fn member(data: &[u8]) -> Vec<u8> {
    member_with(header(0, None, None, None, None), data)
}

/// What gzfleet must make of a file.
pub(crate) enum Want {
    /// Valid: decodes to these bytes, silently, exit 0.
    Good(Vec<u8>),
    /// Valid data, then this many bytes that are not gzip: a warning, exit 2.
    Garbage(Vec<u8>, u64),
    /// Invalid: exit 1 and one line, "gzfleet: FILE: " followed by this.
    Fails(String),
}

/// Runs every reading command on `bytes` saved as NAME.gz, and gzip beside them.
/// `gzip_says`: what gzip -t prints about it (empty when it prints nothing).
pub(crate) fn judge(name: &str, bytes: &[u8], want: Want, gzip_says: &str) {
    let dir = Dir::new(name);
    let file = format!("{name}.gz");
    let gz = dir.file(&file, bytes);
    let shown = gz.display().to_string();

    let code = match &want {
        Want::Good(_) => 0,
        Want::Garbage(..) => 2,
        Want::Fails(_) => 1,
    };
    for gzip_args in [&["-t"][..], &["-l"]] {
        let g = run(std::process::Command::new("gzip").args(gzip_args).arg(&gz));
        assert_eq!(
            g.status.code(),
            Some(code),
            "{name}: gzip {gzip_args:?} disagrees:\n{}",
            g.stderr
        );
        assert!(
            g.stderr.contains(gzip_says),
            "{name}: gzip {gzip_args:?} says:\n{}",
            g.stderr
        );
    }

    let test = measured(gzfleet().arg("test").arg(&gz), false);
    let list = measured(gzfleet().arg("list").arg(&gz), true);
    let to_stdout = measured(gzfleet().args(["decompress", "-c"]).arg(&gz), true);
    let to_file = measured(gzfleet().arg("decompress").arg(&gz), false);
    for (what, r) in [
        ("test", &test),
        ("list", &list),
        ("decompress -c", &to_stdout),
        ("decompress", &to_file),
    ] {
        assert_eq!(
            r.status.code(),
            Some(code),
            "{name}: gzfleet {what}; stderr:\n{}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("panicked"),
            "{name}: {what}:\n{}",
            r.stderr
        );
    }
    let one_line = |r: &Run, line: String, what: &str| {
        assert!(
            r.stderr.starts_with(&line) && r.stderr.lines().count() == 1,
            "{name}: gzfleet {what} should say one line starting\n{line}\nbut said:\n{}",
            r.stderr
        );
    };
    let listed_size = |r: &Run| -> u64 {
        let out = String::from_utf8_lossy(&r.stdout);
        let row = out
            .lines()
            .nth(1)
            .unwrap_or_else(|| panic!("{name}: no row in\n{out}"));
        row.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let output = dir.join(name);
    match want {
        Want::Good(data) => {
            for r in [&test, &list, &to_stdout, &to_file] {
                assert_eq!(r.stderr, "", "{name}");
            }
            assert!(
                to_stdout.stdout == data,
                "{name}: decompress -c gave other bytes"
            );
            assert!(
                std::fs::read(&output).unwrap() == data,
                "{name}: decompress"
            );
            assert_eq!(listed_size(&list), data.len() as u64, "{name}: list");
        }
        Want::Garbage(data, n) => {
            // gzip's words from every command.
            let line =
                format!("gzfleet: {shown}: decompression OK, trailing garbage ignored ({n} bytes)");
            one_line(&test, line.clone(), "test");
            // gzip -l prints this warning instead of the row; the data before the
            // garbage is good and its size known, so we print both.
            one_line(&list, line.clone(), "list");
            assert_eq!(listed_size(&list), data.len() as u64, "{name}: list");
            one_line(&to_stdout, line.clone(), "decompress -c");
            one_line(&to_file, line, "decompress");
            assert!(
                to_stdout.stdout == data,
                "{name}: decompress -c gave other bytes"
            );
            // As gzip -d does: the data is whole, so its file is kept.
            assert!(
                std::fs::read(&output).unwrap() == data,
                "{name}: decompress"
            );
        }
        Want::Fails(message) => {
            let line = format!("gzfleet: {shown}: {message}");
            for (what, r) in [
                ("test", &test),
                ("list", &list),
                ("decompress -c", &to_stdout),
                ("decompress", &to_file),
            ] {
                one_line(r, line.clone(), what);
            }
            assert_eq!(
                list.stdout, b"",
                "{name}: list printed a row for a bad file"
            );
            assert_eq!(
                dir.names(),
                [file],
                "{name}: decompress left output behind, or lost its input"
            );
        }
    }
}

/// `run_measured`, asserting the memory bound.
pub(crate) fn measured(cmd: &mut std::process::Command, keep_stdout: bool) -> Run {
    let (r, peak) = run_measured(cmd, keep_stdout);
    assert!(peak < MEMORY_BOUND, "{cmd:?} peaked at {} MiB", peak >> 20);
    r
}

pub(crate) fn sample() -> Vec<u8> {
    text(100_000, 42)
}

#[test]
fn empty_and_not_gzip() {
    // gzip says "unexpected end of file" for an empty file; we say it too, and why.
    judge(
        "empty",
        b"",
        Want::Fails("unexpected end of file: the input is empty".into()),
        "unexpected end of file",
    );
    judge(
        "plain",
        b"plain text, not gzip\n",
        Want::Fails("not in gzip format".into()),
        "not in gzip format",
    );
    // The magic and a method that is not deflate.
    judge(
        "method",
        &[0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3],
        Want::Fails(
            "bad header in member 1: unknown compression method 7 (only deflate, 8, exists)".into(),
        ),
        "unknown method 7",
    );
}

#[test]
fn truncated_anywhere() {
    let good = member(&sample());
    let n = good.len();
    let mut second_cut = good.clone();
    second_cut.extend_from_slice(&member(b"second member")[..15]);
    for (name, bytes, inside) in [
        ("cut-magic", &good[..2], "member 1 ends inside the header"),
        ("cut-header", &good[..7], "member 1 ends inside the header"),
        (
            "cut-data",
            &good[..n / 2],
            "member 1 ends inside the compressed data",
        ),
        (
            "cut-no-trailer",
            &good[..n - 8],
            "member 1 ends inside the trailer (CRC-32 and length)",
        ),
        (
            "cut-trailer",
            &good[..n - 3],
            "member 1 ends inside the trailer (CRC-32 and length)",
        ),
        (
            "cut-second",
            &second_cut[..],
            "member 2 ends inside the compressed data",
        ),
    ] {
        judge(
            name,
            bytes,
            Want::Fails(format!("unexpected end of file: {inside}")),
            "unexpected end of file",
        );
    }
}

#[test]
fn bit_flips_in_data_crc_and_length() {
    let data = sample();
    let good = member(&data);
    let n = good.len();
    // BTYPE 11 in the first block's header: a reserved block type. (gzip: "format
    // violated"; we pass on zlib's words and the byte.)
    let mut block = good.clone();
    block[10] |= 0b110;
    judge(
        "flip-block-type",
        &block,
        Want::Fails("invalid compressed data in member 1 near byte 10: invalid block type".into()),
        "invalid compressed data--format violated",
    );
    let mut crc = good.clone();
    crc[n - 8] ^= 0x01;
    let stored = crc32fast::hash(&data) ^ 1;
    judge(
        "flip-crc",
        &crc,
        Want::Fails(format!(
            "CRC-32 mismatch in member 1: stored {stored:08x}, data gives {:08x}: the data is corrupt",
            stored ^ 1
        )),
        "invalid compressed data--crc error",
    );
    let mut len = good;
    len[n - 1] ^= 0x80;
    judge(
        "flip-length",
        &len,
        Want::Fails(format!(
            "length mismatch in member 1: stored {} (mod 2^32), data gives {}: the data is corrupt",
            data.len() as u32 ^ 0x8000_0000,
            data.len()
        )),
        "invalid compressed data--length error",
    );
}

/// Every single-bit flip of the header and trailer, and a spread of flips through the
/// data: `gzfleet test` and `gzip -t` reach the same verdict on each (some flips are
/// harmless to both: the mtime, OS, FTEXT, padding bits), and a failure is one line
/// naming the file.
#[test]
fn every_bit_flip_gets_gzips_verdict() {
    let dir = Dir::new("flips");
    let good = member(&text(3000, 7));
    let n = good.len();
    let bits: Vec<usize> = (0..80)
        .chain((80..(n - 8) * 8).step_by(23))
        .chain((n - 8) * 8..n * 8)
        .collect();
    let path = dir.join("flipped.gz");
    let line = format!("gzfleet: {}: ", path.display());
    let (mut both_fail, mut both_pass) = (0, 0);
    for bit in bits {
        let mut bytes = good.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(&path, &bytes).unwrap();
        let ours = run(gzfleet().arg("test").arg(&path));
        let gzip = run(std::process::Command::new("gzip").arg("-t").arg(&path));
        assert_eq!(
            ours.status.code(),
            gzip.status.code(),
            "bit {bit}: gzfleet says\n{}gzip says\n{}",
            ours.stderr,
            gzip.stderr
        );
        assert!(!ours.stderr.contains("panicked"), "{}", ours.stderr);
        if ours.status.success() {
            both_pass += 1;
        } else {
            both_fail += 1;
            assert!(
                ours.stderr.starts_with(&line) && ours.stderr.lines().count() == 1,
                "bit {bit}:\n{}",
                ours.stderr
            );
        }
    }
    assert!(
        both_fail > 100 && both_pass > 10,
        "{both_fail} failed, {both_pass} passed"
    );
}
