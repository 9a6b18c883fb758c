//! `gzfleet list`: sizes and ratio of each file, as gzip -l, in gzip 1.12's
//! [`columns`](super::columns).
//!
//! Like gzip 1.12's -l, it decodes every member instead of trusting the trailer, whose
//! ISIZE holds only the last member's length mod 2^32. The compressed size cannot prove
//! the trailer right either: one member of a few megabytes can hold more than 4 GiB,
//! and members can be many. So the data is streamed through fixed buffers and counted;
//! a damaged file is an error, not a row of made-up sizes. Where gzip 1.12 differs on
//! purpose: a file of several members lists all of them (gzip: the last member's size
//! and CRC), and a file with zero padding or trailing garbage still gets its row
//! (gzip prints none).
//!
//! The date is the file's modification time, as gzip shows it without -N: the date
//! the decompressed file would get; with -N, the name and time the header stored.
//! The formats other than gzip's (.Z, pack, zip) are listed too, with gzip's method
//! names and its unknown CRC.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::columns::{self, Row};
use super::names::strip_suffix;
use super::{Tally, check, inputs, is_stdin, open, place, refuse_terminal, restore};
use crate::cli::ListArgs;
use crate::error::{Error, Place};
use crate::ui::Ui;

pub(crate) fn list(args: &ListArgs, ui: &Ui) -> Result<Tally, Error> {
    let files = inputs(&args.files);
    refuse_terminal(&files)?;
    let mut out = io::stdout().lock();
    let write_error = |source| Error::Write {
        output: Place::Stdout,
        source,
    };
    // Printed before the first row, as gzip does: a list of files that all fail is
    // only their errors.
    let mut header = Some(columns::header(args.verbose));
    let mut tally = Tally::default();
    let (mut compressed, mut uncompressed, mut last_overhead) = (0u64, 0u64, 0u64);
    for path in &files {
        let (row, garbage) = match list_one(path, args.name) {
            Ok(listed) => listed,
            Err(e) => {
                tally.error(ui, e);
                continue;
            }
        };
        compressed += row.compressed;
        uncompressed += row.uncompressed;
        last_overhead = row.overhead;
        if let Some(header) = header.take() {
            writeln!(out, "{header}").map_err(write_error)?;
        }
        writeln!(out, "{}", columns::row(&row, args.verbose)).map_err(write_error)?;
        if garbage > 0 {
            out.flush().map_err(write_error)?;
            tally.warn(ui, super::garbage_warning(&place(path), garbage));
        }
    }
    // As gzip: totals for several files named, and only of something.
    if files.len() > 1 && compressed > 0 && uncompressed > 0 {
        let line = columns::totals(compressed, uncompressed, last_overhead, args.verbose);
        writeln!(out, "{line}").map_err(write_error)?;
    }
    out.flush().map_err(write_error)?;
    Ok(tally)
}

/// One file's row, and how many bytes of trailing garbage follow its data.
fn list_one(path: &Path, stored_name: bool) -> Result<(Row, u64), Error> {
    let mut input = BufReader::with_capacity(1 << 16, open(path, true, false)?);
    // -N: what the first member's header stored, read before anything is decoded.
    let stored = match stored_name {
        true => restore::stored(input.fill_buf().map_err(|source| Error::Read {
            input: place(path),
            source,
        })?),
        false => restore::Stored::default(),
    };
    let decoded = check(input, place(path))?;
    // gzip names the output decompressing would write (for stdin, stdout).
    let name = match (is_stdin(path), stored.name) {
        (true, _) => "stdout".into(),
        // As gzip prints it: the stored name alone.
        (false, Some(name)) => name,
        (false, None) => strip_suffix(path).unwrap_or_else(|| path.to_path_buf()),
    };
    let gzip = decoded.foreign == 0;
    let row = Row {
        method: decoded.format.method(),
        crc: gzip.then_some(decoded.crc),
        mtime: stored
            .mtime
            .map_or_else(|| file_time(path), |t| Some(seconds(t))),
        compressed: decoded.compressed + decoded.trailing_zeros + decoded.trailing_garbage,
        uncompressed: decoded.uncompressed,
        overhead: match decoded.members {
            1 if gzip => decoded.first_header + 8,
            _ => 0,
        },
        name: name.display().to_string(),
    };
    Ok((row, decoded.trailing_garbage))
}

fn seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// The date gzip shows without -N: the file's. A file redirected to stdin has its
/// date; a pipe has none, which gzip shows as the epoch.
fn file_time(path: &Path) -> Option<i64> {
    match is_stdin(path) {
        true => io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(File::from)
            .and_then(|f| f.metadata())
            .ok()
            .map(|m| if m.is_file() { m.mtime() } else { 0 }),
        false => fs::metadata(path).ok().map(|m| m.mtime()),
    }
}
