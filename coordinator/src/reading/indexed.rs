//! How `decompress` and `test` inflate one input: with its index when it has a
//! usable one (several threads; or just a range with --offset/--length), else the
//! one-thread decoder. An index found wanting is named in one warning line and the
//! one-thread path takes over, from the start or after the bytes already written
//! (which the index path only writes once proved right: see index::parallel).

use std::io::{Read, Write};
use std::path::Path;

use super::{is_stdin, place};
use crate::error::{Error, Place};
use crate::gzip::{self, DecodeError, Decoded, decode_with};
use crate::index::{self, Failure, Found, Range, RangeError};
use crate::signals;
use crate::ui::Ui;

/// What the command line says about indexes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options<'a> {
    pub processes: Option<u32>,
    pub index_file: Option<&'a Path>,
    pub offset: Option<u64>,
    pub length: Option<u64>,
    /// What is not compressed is copied unchanged (gzip's -cdf, -tf).
    pub passthrough: bool,
}

impl Options<'_> {
    fn ranged(&self) -> bool {
        self.offset.is_some() || self.length.is_some()
    }

    fn decoding(&self) -> gzip::Options {
        gzip::Options {
            passthrough: self.passthrough,
        }
    }

    fn threads(&self) -> usize {
        self.processes.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |p| p as usize,
        )
    }
}

/// Inflates `path` (already opened as `input`) into `out`, which is `output`.
pub(crate) fn inflate(
    opts: &Options,
    path: &Path,
    input: impl Read,
    out: &mut dyn Write,
    output: &Place,
    ui: &Ui,
) -> Result<Decoded, Error> {
    let fail = |e| failure(path, output.clone(), e);
    let plan = match usable_index(opts, path, ui) {
        Found::Usable(plan) => Some(plan),
        _ => None,
    };
    if opts.ranged() {
        let (offset, length) = (opts.offset.unwrap_or(0), opts.length);
        let Some(plan) = plan else {
            let mut range = Range::new(out, offset, length.unwrap_or(u64::MAX));
            let mut d = decode_with(input, &mut range, opts.decoding()).map_err(fail)?;
            d.uncompressed = range.passed;
            return Ok(d);
        };
        return match index::extract(&plan, offset, length, out) {
            Ok(n) => Ok(Decoded {
                members: 1,
                compressed: plan.gz_len(),
                uncompressed: n,
                ..Decoded::default()
            }),
            Err(RangeError::Write(e)) => Err(fail(DecodeError::Write(e))),
            Err(RangeError::Index(why)) => Err(Error::IndexRange {
                index: plan.index_path().to_path_buf(),
                why,
            }),
        };
    }
    let Some(plan) = plan else {
        return decode_with(input, &mut &mut *out, opts.decoding()).map_err(fail);
    };
    match index::decompress(&plan, opts.threads(), out) {
        Ok(d) => Ok(d),
        Err(Failure::Write(e)) => Err(fail(DecodeError::Write(e))),
        Err(Failure::Index { written, why }) => {
            if signals::interrupted() {
                return Err(Error::Interrupted);
            }
            ui.warn(format!(
                "{}: index not used past byte {written}: {why}; finishing on one thread",
                plan.index_path().display()
            ));
            decode_with(
                input,
                &mut Range::new(out, written, u64::MAX),
                opts.decoding(),
            )
            .map_err(fail)
        }
    }
}

/// The index to read `path` with, if it has one that can be used (`Usable`); one that
/// cannot is named in a warning.
fn usable_index(opts: &Options, path: &Path, ui: &Ui) -> Found {
    let found = match is_stdin(path) {
        true => Found::Absent,
        false => Found::look(path, opts.index_file),
    };
    match found {
        Found::Unusable { index, why } => {
            let then = match opts.ranged() {
                true => "inflating from the start",
                false => "decompressing on one thread",
            };
            ui.warn(format!(
                "{}: index not used: {why}; {then}",
                index.display()
            ));
            Found::Absent
        }
        Found::Absent if opts.ranged() => {
            ui.warn(format!(
                "{}: no index ({}): inflating from the start to reach the range",
                place(path),
                index::index_path_for(path).display()
            ));
            Found::Absent
        }
        other => other,
    }
}

/// Names what failed: an interrupt, the output, or the input.
pub(super) fn failure(input: &Path, output: Place, e: DecodeError) -> Error {
    match e {
        _ if signals::interrupted() => Error::Interrupted,
        DecodeError::Write(source) => Error::Write { output, source },
        source => Error::Corrupt {
            input: place(input),
            source,
            found: None,
        },
    }
}
