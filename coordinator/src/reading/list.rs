//! `gzfleet list`: sizes and ratio from each file's header and trailer, as gzip -l.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::{Tally, is_stdin, strip_suffix};
use crate::cli::ListArgs;
use crate::error::{Error, Place};
use crate::gzip::{DecodeError, read_header};
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
    writeln!(out, "{header}").map_err(write_error)?;
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
        total.0 += entry.compressed;
        total.1 += entry.uncompressed as u64;
        let shown = strip_suffix(path).unwrap_or_else(|| path.clone());
        let ratio = ratio(entry.compressed, entry.uncompressed as u64);
        if args.verbose {
            write!(out, "{:08x} {:>14} ", entry.crc, entry.mtime).map_err(write_error)?;
        }
        writeln!(
            out,
            "{:>19} {:>19} {ratio:>5.1}% {}",
            entry.compressed,
            entry.uncompressed,
            shown.display()
        )
        .map_err(write_error)?;
    }
    if args.files.len() > 1 {
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

struct Listed {
    compressed: u64,
    uncompressed: u32,
    crc: u32,
    mtime: u32,
}

/// Reads the header and the trailer only, as gzip -l does.
fn list_one(path: &Path) -> Result<Listed, Error> {
    if is_stdin(path) {
        return Err(Error::Usage(
            "list needs a file, not stdin: it reads the trailer at the end".into(),
        ));
    }
    let open_error = |source| Error::Open {
        path: path.to_path_buf(),
        source,
    };
    let corrupt = |source| Error::Corrupt {
        input: Place::Path(path.to_path_buf()),
        source,
    };
    let mut file = File::open(path).map_err(open_error)?;
    let len = file.metadata().map_err(open_error)?.len();
    let header = read_header(&mut io::BufReader::new(&mut file))
        .map_err(|e| corrupt(DecodeError::in_header(e, 1)))?;
    if len < header.len + 10 {
        return Err(corrupt(DecodeError::Truncated));
    }
    let mut trailer = [0u8; 8];
    file.seek(SeekFrom::Start(len - 8))
        .and_then(|_| file.read_exact(&mut trailer))
        .map_err(open_error)?;
    Ok(Listed {
        compressed: len,
        crc: u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes")),
        uncompressed: u32::from_le_bytes(trailer[4..].try_into().expect("4 bytes")),
        mtime: header.mtime,
    })
}

/// gzip's ratio: the share of the input saved.
fn ratio(compressed: u64, uncompressed: u64) -> f64 {
    if uncompressed == 0 {
        0.0
    } else {
        100.0 * (uncompressed as f64 - compressed as f64) / uncompressed as f64
    }
}
