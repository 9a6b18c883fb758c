//! The reading side: `gzfleet decompress`, `test` and `list`, with gzip's habits
//! (suffixes and their [`names`], -c, -f and data passed through unchanged,
//! trailing-garbage warnings) and the same rule as compression that output appears
//! under its name only once complete. Decoding itself is the shared `gzip::decoder`,
//! which also reads the formats gzip -d reads besides (`legacy`).

mod blockcheck;
mod columns;
mod decompress;
pub(crate) mod indexed;
mod list;
mod names;
mod restore;
mod test;

use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};

pub(crate) use decompress::decompress;
pub(crate) use list::list;
pub(crate) use test::test;

use crate::admit;
use crate::error::{Error, Place, Severity};
use crate::gzip::{Decoded, Warning, decode};
use crate::ui::Ui;

/// How a command over several files ended, as gzip counts it.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub errors: usize,
    pub warnings: usize,
}

impl Tally {
    /// A file that failed, or that gzip would skip with a warning (exit status 2).
    fn error(&mut self, ui: &Ui, e: Error) {
        ui.problem(&e);
        match e.severity() {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Note | Severity::Detail => {}
        }
    }

    fn warn(&mut self, ui: &Ui, message: String) {
        ui.warn(message);
        self.warnings += 1;
    }
}

/// Decodes a whole input, every member checked, the output discarded: what `test` and
/// `list` do with each file (and what the fuzz target `read_gzip` feeds).
pub(crate) fn check(input: impl Read, place: Place) -> Result<Decoded, Error> {
    decode(input, &mut io::sink()).map_err(|source| Error::Corrupt {
        input: place,
        source,
        found: None,
    })
}

/// The files named, or stdin when none is.
fn inputs(files: &[PathBuf]) -> Vec<PathBuf> {
    if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files.to_vec()
    }
}

fn is_stdin(p: &Path) -> bool {
    p == Path::new("-")
}

/// `test` and `list` read gzip data, which nobody types: a terminal on stdin is a
/// forgotten file name, refused as gzip -t refuses it. (gzip -l reads the terminal;
/// waiting for typed binary helps no one.)
fn refuse_terminal(files: &[PathBuf]) -> Result<(), Error> {
    match files.iter().any(|p| is_stdin(p)) && io::stdin().is_terminal() {
        true => Err(Error::Usage(
            "compressed data not read from a terminal; name a file, or redirect stdin".into(),
        )),
        false => Ok(()),
    }
}

/// What gzip says of a stream it read whole but warns about (exit status 2), to
/// stdout or in a test: a zip file's other entries are ignored there.
fn warnings(ui: &Ui, tally: &mut Tally, input: &Place, d: &Decoded) {
    for w in &d.warnings {
        match w {
            Warning::LzwFlags(flags) => {
                tally.warn(ui, format!("{input}: warning, unknown flags {flags:#x}"))
            }
            Warning::ZipMoreEntries => {
                tally.warn(ui, format!("{input} has more than one entry--rest ignored"))
            }
        }
    }
}

/// gzip's words for data after the last member that is not zero padding, with how
/// much of it there is.
fn garbage_warning(input: &Place, bytes: u64) -> String {
    format!("{input}: decompression OK, trailing garbage ignored ({bytes} bytes)")
}

/// The folder holding `p` ("." for a bare name).
fn parent(p: &Path) -> &Path {
    crate::partial::parent_dir(p)
}

fn place(p: &Path) -> Place {
    if is_stdin(p) {
        Place::Stdin
    } else {
        Place::Path(p.to_path_buf())
    }
}

/// Opens an input ("-" is stdin). `force` and `writes_file` apply gzip's rules (see
/// `admit`); a terminal is no source of compressed data unless forced, as in gzip.
fn open(path: &Path, force: bool, writes_file: bool) -> Result<Box<dyn Read>, Error> {
    if is_stdin(path) {
        if !force && io::stdin().is_terminal() {
            return Err(Error::Usage(
                "compressed data not read from a terminal. Use -f to force decompression.".into(),
            ));
        }
        return Ok(Box::new(io::stdin().lock()));
    }
    let (file, _) = admit::open(path, force, writes_file)?;
    Ok(Box::new(file))
}
