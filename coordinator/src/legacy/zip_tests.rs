//! Tests of `zip.rs` on entries laid out here as the zip format (APPNOTE 4.3.7) has
//! them; the e2e tests read what a real `zip` writes.

use std::io::Write;

use crate::gzip::{DecodeError, Warning, decode};

struct Entry<'a> {
    data: &'a [u8],
    method: u16,
    flags: u16,
    crc: u32,
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zip(e: &Entry) -> Vec<u8> {
    let body = match e.method {
        8 => deflate(e.data),
        _ => e.data.to_vec(),
    };
    let descriptor = e.flags & 8 != 0;
    let mut out = b"PK\x03\x04".to_vec();
    out.extend(20u16.to_le_bytes());
    out.extend(e.flags.to_le_bytes());
    out.extend(e.method.to_le_bytes());
    out.extend([0; 4]);
    for v in [e.crc, body.len() as u32, e.data.len() as u32] {
        out.extend(if descriptor { 0 } else { v }.to_le_bytes());
    }
    out.extend(4u16.to_le_bytes());
    out.extend(3u16.to_le_bytes());
    out.extend(b"name");
    out.extend(b"xyz");
    out.extend(&body);
    if descriptor {
        out.extend(b"PK\x07\x08");
        for v in [e.crc, body.len() as u32, e.data.len() as u32] {
            out.extend(v.to_le_bytes());
        }
    }
    // A central directory follows; it is not read.
    out.extend(b"PK\x01\x02 and the rest of the directory");
    out
}

fn run(bytes: &[u8]) -> Result<(crate::gzip::Decoded, Vec<u8>), DecodeError> {
    let mut out = Vec::new();
    decode(bytes, &mut out).map(|d| (d, out))
}

const DATA: &[u8] = b"an entry of a zip file, an entry of a zip file";

fn entry(method: u16, flags: u16) -> Entry<'static> {
    Entry {
        data: DATA,
        method,
        flags,
        crc: crc32fast::hash(DATA),
    }
}

#[test]
fn the_first_entry_deflated_or_stored_with_or_without_a_descriptor() {
    for (method, flags) in [(8, 0), (0, 0), (8, 8)] {
        let bytes = zip(&entry(method, flags));
        let (d, out) = run(&bytes).unwrap();
        assert_eq!(out, DATA, "method {method}, flags {flags}");
        assert_eq!(d.compressed, bytes.len() as u64);
        assert!(d.warnings.is_empty());
    }
    let mut two = zip(&entry(8, 0));
    let at = two.len() - 34;
    two.truncate(at);
    two.extend(zip(&entry(0, 0)));
    let (d, out) = run(&two).unwrap();
    assert_eq!(
        (out.as_slice(), d.warnings.as_slice()),
        (DATA, &[Warning::ZipMoreEntries][..])
    );
}

#[test]
fn what_gzip_refuses() {
    let said = |bytes: &[u8]| run(bytes).unwrap_err().to_string();
    assert!(
        said(&zip(&entry(12, 0)))
            .contains("first entry not deflated or stored (method 12) -- use unzip")
    );
    assert!(said(&zip(&entry(8, 1))).contains("encrypted file -- use unzip"));
    let bad_crc = Entry {
        crc: 1,
        ..entry(8, 0)
    };
    assert!(said(&zip(&bad_crc)).contains("crc error"));
    let bad_crc = Entry {
        crc: 1,
        ..entry(0, 8)
    };
    assert!(said(&zip(&bad_crc)).contains("crc error"));
    let good = zip(&entry(8, 0));
    assert!(said(&good[..20]).contains("not a valid zip file"));
    assert!(said(&good[..33]).contains("not a valid zip file"));
    assert!(said(&good[..50]).contains("unexpected end of file"));
    let stored = zip(&entry(0, 0));
    assert!(said(&stored[..50]).contains("unexpected end of file"));
    let descriptor = zip(&entry(8, 8));
    let cut = descriptor.len() - 34 - 4;
    assert!(said(&descriptor[..cut]).contains("data descriptor"));
}
