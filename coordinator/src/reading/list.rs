//! `gzfleet list`: sizes and ratio of each file, as gzip -l. Like gzip 1.12's -l, it
//! decodes and checks every member instead of trusting the trailer: a damaged file is
//! an error, not a row of made-up sizes, and the uncompressed size is exact (every
//! member, past 4 GiB) where the trailer holds only the last member's, mod 2^32.

use std::io::{self, Write};
use std::path::Path;

use super::{Tally, check, is_stdin, open, place, strip_suffix};
use crate::cli::ListArgs;
use crate::error::{Error, Place};
use crate::gzip::Decoded;
use crate::ui::Ui;

pub(crate) fn list(args: &ListArgs, ui: &Ui) -> Result<Tally, Error> {
    let mut out = io::stdout().lock();
    let write_error = |source| Error::Write {
        output: Place::Stdout,
        source,
    };
    let header = match args.verbose {
        true => {
            "     crc mtime (unix s)          compressed        uncompressed  ratio uncompressed_name"
        }
        false => "         compressed        uncompressed  ratio uncompressed_name",
    };
    // Printed before the first row, as gzip does: a list of files that all fail is
    // only their errors.
    let mut header = Some(header);
    let mut tally = Tally::default();
    let mut total = (0u64, 0u64);
    for path in &args.files {
        let entry = match list_one(path) {
            Ok(entry) => entry,
            Err(e) => {
                tally.error(ui, e);
                continue;
            }
        };
        // The file's size, trailing bytes included, as gzip shows it.
        let compressed = entry.compressed + entry.trailing_zeros + entry.trailing_garbage;
        total.0 += compressed;
        total.1 += entry.uncompressed;
        // gzip names the output decompressing stdin would go to.
        let shown = match is_stdin(path) {
            true => "stdout".into(),
            false => strip_suffix(path).unwrap_or_else(|| path.clone()),
        };
        let ratio = ratio(compressed, entry.uncompressed);
        if let Some(header) = header.take() {
            writeln!(out, "{header}").map_err(write_error)?;
        }
        if args.verbose {
            write!(out, "{:08x} {:>14} ", entry.crc, entry.mtime).map_err(write_error)?;
        }
        writeln!(
            out,
            "{compressed:>19} {:>19} {ratio:>5.1}% {}",
            entry.uncompressed,
            shown.display()
        )
        .map_err(write_error)?;
        // gzip 1.12 prints this warning instead of the row; we print both, since
        // the data before the garbage was decoded and its sizes are known.
        if entry.trailing_garbage > 0 {
            out.flush().map_err(write_error)?;
            tally.warn(
                ui,
                format!(
                    "{}: data OK, but {} bytes of trailing garbage follow it",
                    place(path),
                    entry.trailing_garbage
                ),
            );
        }
    }
    if args.files.len() > 1 && header.is_none() {
        let ratio = ratio(total.0, total.1);
        writeln!(
            out,
            "{:>19} {:>19} {ratio:>5.1}% (totals)",
            total.0, total.1
        )
        .map_err(write_error)?;
    }
    out.flush().map_err(write_error)?;
    Ok(tally)
}

fn list_one(path: &Path) -> Result<Decoded, Error> {
    check(open(path, true, false)?, place(path))
}

/// gzip's ratio: the share of the input saved.
fn ratio(compressed: u64, uncompressed: u64) -> f64 {
    if uncompressed == 0 {
        0.0
    } else {
        100.0 * (uncompressed as f64 - compressed as f64) / uncompressed as f64
    }
}
