//! Malformed and unusual gzip streams as a whole: several members, what follows the
//! last one, hostile and long headers, very many members, decompression bombs, and
//! what a failed decompression leaves. Judged as in `malformed.rs`, whose helpers
//! these use: every reading command, and gzip 1.12 beside them.

use std::path::Path;

use crate::malformed::*;
use crate::util::*;

#[test]
fn concatenated_members_are_one_stream() {
    let mut bytes = member(b"first member\n");
    bytes.extend(member_with(
        header(
            0,
            Some(b"xy"),
            Some(b"second"),
            Some(b"a comment"),
            Some(true),
        ),
        &sample(),
    ));
    bytes.extend(member(b""));
    bytes.extend(member(b"last\n"));
    // gzip -l shows only the last member's size (its trailer's); we show them all.
    judge(
        "concatenated",
        &bytes,
        Want::Good([&b"first member\n"[..], &sample(), b"last\n"].concat()),
        "",
    );
}

#[test]
fn what_follows_the_last_member() {
    let data = sample();
    let good = member(&data);
    let with = |tail: &[u8]| [&good[..], tail].concat();
    judge(
        "garbage",
        &with(b"this is not gzip"),
        Want::Garbage(data.clone(), 16),
        "decompression OK, trailing garbage ignored",
    );
    // Zero padding (tape blocks, some tools) is ignored without a word, as gzip does.
    // gzip -v would say so and exit 2; our status never depends on -v.
    judge(
        "zero-padding",
        &with(&[0; 4096]),
        Want::Good(data.clone()),
        "",
    );
    judge(
        "zeros-then-garbage",
        &with(b"\0\0\0\0x"),
        Want::Garbage(data.clone(), 5),
        "decompression OK, trailing garbage ignored",
    );
    // One byte alone: gzip reads two for the next magic and fails at the end of the
    // file, so a lone byte (0x1f: a member cut short) is an error; two are garbage.
    judge(
        "lone-byte",
        &with(&[0x1f]),
        Want::Fails(
            "unexpected end of file: member 1 is followed by one byte (0x1f), a member cut short or garbage"
                .into(),
        ),
        "unexpected end of file",
    );
    judge(
        "two-bytes",
        &with(&[0x1f, b'x']),
        Want::Garbage(data.clone(), 2),
        "decompression OK, trailing garbage ignored",
    );
    judge("lone-zero", &with(&[0]), Want::Good(data.clone()), "");
    // The magic makes it a member, then a method that does not exist: an error, as in
    // gzip (judged on the method byte, before the header is known to be short).
    judge(
        "magic-then-garbage",
        &with(b"\x1f\x8bxx"),
        Want::Fails(
            "bad header in member 2: unknown compression method 120 (only deflate, 8, exists)"
                .into(),
        ),
        "unknown method 120",
    );
}

#[test]
fn hostile_headers() {
    let data = sample();
    let fixed = |flags: u8| header(flags, None, None, None, None);
    // XLEN says 65535; three bytes follow.
    let mut short_extra = fixed(FEXTRA);
    short_extra.extend_from_slice(&[0xff, 0xff, 1, 2, 3]);
    judge(
        "xlen-short",
        &short_extra,
        Want::Fails(
            "unexpected end of file: member 1 ends inside the header's extra field (shorter than its XLEN says)"
                .into(),
        ),
        "unexpected end of file",
    );
    let mut name = fixed(FNAME);
    name.extend_from_slice(b"name-without-its-NUL");
    judge(
        "fname-unterminated",
        &name,
        Want::Fails(
            "unexpected end of file: member 1 ends inside the stored file name, which has no terminating NUL"
                .into(),
        ),
        "unexpected end of file",
    );
    // Eight megabytes of name and no NUL: skipped as it streams by, never held.
    let mut endless = fixed(FNAME | FCOMMENT);
    endless.extend(std::iter::repeat_n(b'n', 8 << 20));
    judge(
        "fname-endless",
        &endless,
        Want::Fails(
            "unexpected end of file: member 1 ends inside the stored file name, which has no terminating NUL"
                .into(),
        ),
        "unexpected end of file",
    );
    let mut comment = fixed(FCOMMENT);
    comment.extend_from_slice(b"a comment without its NUL");
    judge(
        "fcomment-unterminated",
        &comment,
        Want::Fails(
            "unexpected end of file: member 1 ends inside the stored comment, which has no terminating NUL"
                .into(),
        ),
        "unexpected end of file",
    );
    let wrong_hcrc = header(0, Some(b"ex"), Some(b"n"), None, Some(false));
    let computed = crc32fast::hash(&wrong_hcrc[..wrong_hcrc.len() - 2]) as u16;
    judge(
        "fhcrc-wrong",
        &member_with(wrong_hcrc, &data),
        Want::Fails(format!(
            "bad header in member 1: header CRC mismatch: stored {:04x}, header gives {computed:04x}",
            computed ^ 1
        )),
        "header checksum",
    );
    // gzip names 0x20 "encrypted" (an old meaning) and the others by value; both refuse.
    for (flag, gzip_says) in [
        (0x20, "is encrypted -- not supported"),
        (0x40, "has flags 0x40 -- not supported"),
        (0x80, "has flags 0x80 -- not supported"),
    ] {
        judge(
            &format!("reserved-{flag:02x}"),
            &member_with(fixed(flag), &data),
            Want::Fails(format!(
                "bad header in member 1: reserved flag bits set ({flag:#04x}): written by a newer or broken tool"
            )),
            gzip_says,
        );
    }
}

/// gzip accepts header fields of any length, and so do we (names and comments over
/// 64 KiB used to be refused).
#[test]
fn long_header_fields_are_accepted() {
    let data = sample();
    let long_name = vec![b'n'; 100_000];
    let long_comment = vec![b'c'; 300_000];
    let full_extra = vec![b'e'; 65_535];
    for (name, head) in [
        ("fname-100k", header(0, None, Some(&long_name), None, None)),
        (
            "fcomment-300k",
            header(0, None, None, Some(&long_comment), None),
        ),
        (
            "all-fields",
            header(
                0,
                Some(&full_extra),
                Some(&long_name),
                Some(&long_comment),
                Some(true),
            ),
        ),
    ] {
        judge(
            name,
            &member_with(head, &data),
            Want::Good(data.clone()),
            "",
        );
    }
}

/// Members by the hundred thousand: nothing is kept per member.
#[test]
fn many_empty_members() {
    let empty = member(b"");
    let bytes = empty.repeat(200_000);
    judge("many-members", &bytes, Want::Good(Vec::new()), "");
}

/// A 1 MiB file that inflates to 1 GiB of zeros is valid gzip: decoded to the end in
/// fixed memory, never refused.
#[test]
fn decompression_bomb_streams_in_bounded_memory() {
    const GIB: u64 = 1 << 30;
    let mib = vec![0u8; 1 << 20];
    // 1 MiB of zeros deflated and sync-flushed: a segment that ends on a byte-aligned
    // block boundary and refers to nothing before it, so 1024 copies of it in a row
    // are a valid deflate stream of 1 GiB.
    let mut segment = Vec::with_capacity(4096);
    flate2::Compress::new(flate2::Compression::best(), false)
        .compress_vec(&mib, &mut segment, flate2::FlushCompress::Sync)
        .unwrap();
    let mut crc = crc32fast::Hasher::new();
    let mut bytes = header(0, None, None, None, None);
    for _ in 0..1024 {
        bytes.extend_from_slice(&segment);
        crc.update(&mib);
    }
    bytes.extend_from_slice(&[0x03, 0x00]); // an empty final block
    bytes.extend_from_slice(&crc.finalize().to_le_bytes());
    bytes.extend_from_slice(&((GIB as u32).to_le_bytes()));
    assert!(bytes.len() < 2 << 20, "{} bytes", bytes.len());

    let dir = Dir::new("bomb");
    let gz = dir.file("bomb.gz", &bytes);
    let gzip = run(std::process::Command::new("gzip").arg("-t").arg(&gz));
    assert_ok!(gzip);
    for args in [&["test"][..], &["list"], &["decompress", "-c"]] {
        let (r, peak) = run_measured(gzfleet().args(args).arg(&gz), args[0] == "list");
        assert_ok!(r);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert!(
            peak < 200 << 20,
            "gzfleet {args:?} peaked at {} MiB",
            peak >> 20
        );
        if args[0] == "list" {
            let out = String::from_utf8_lossy(&r.stdout);
            let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
            assert_eq!(row[1], GIB.to_string(), "{out}");
        }
    }
}

/// The name a failed decompression would have used is not taken, and its partial file
/// is gone, even when the failure comes after megabytes were written.
#[test]
fn late_failure_leaves_nothing_that_looks_complete() {
    let dir = Dir::new("late");
    let data = random(4 << 20, 3);
    let mut bytes = member(&data);
    let n = bytes.len();
    bytes[n - 5] ^= 0x10; // the CRC, read only once all the data is out
    let gz = dir.file("late.gz", &bytes);
    let r = run(gzfleet().arg("decompress").arg(&gz));
    assert_fails!(r, 1, "CRC-32 mismatch in member 1");
    assert_eq!(dir.names(), ["late.gz"]);
    assert!(Path::new(&gz).exists());
}
