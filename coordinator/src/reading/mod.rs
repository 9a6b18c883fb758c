//! The reading side: `gzfleet decompress`, `test` and `list`, with gzip's habits
//! (suffixes, -c, -f, trailing-garbage warnings) and the same rule as compression that
//! output appears under its name only once complete. Decoding itself is the shared
//! `gzip::decoder`.

mod columns;
mod decompress;
mod list;
mod test;

use std::fs::{self, File};
use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};

pub(crate) use decompress::decompress;
pub(crate) use list::list;
pub(crate) use test::test;

use crate::error::{Error, Place};
use crate::gzip::{Decoded, decode};
use crate::ui::Ui;

/// How a command over several files ended, as gzip counts it.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub errors: usize,
    pub warnings: usize,
}

impl Tally {
    fn error(&mut self, ui: &Ui, e: impl std::fmt::Display) {
        ui.error(e);
        self.errors += 1;
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

/// gzip's words for data after the last member that is not zero padding, with how
/// much of it there is.
fn garbage_warning(input: &Place, bytes: u64) -> String {
    format!("{input}: decompression OK, trailing garbage ignored ({bytes} bytes)")
}

fn place(p: &Path) -> Place {
    if is_stdin(p) {
        Place::Stdin
    } else {
        Place::Path(p.to_path_buf())
    }
}

fn open(path: &Path) -> Result<Box<dyn Read>, Error> {
    if is_stdin(path) {
        return Ok(Box::new(io::stdin().lock()));
    }
    let open_error = |source| Error::Open {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(open_error)?;
    if meta.is_dir() {
        return Err(Error::Refused(format!(
            "{} is a directory -- ignored",
            path.display()
        )));
    }
    Ok(Box::new(File::open(path).map_err(open_error)?))
}

/// FILE.gz -> FILE, FILE.tgz -> FILE.tar, FILE.z -> FILE.
fn strip_suffix(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let stem = if let Some(s) = name.strip_suffix(".gz").or_else(|| name.strip_suffix(".z")) {
        s.to_string()
    } else {
        format!("{}.tar", name.strip_suffix(".tgz")?)
    };
    (!stem.is_empty()).then(|| path.with_file_name(stem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        assert_eq!(
            strip_suffix(Path::new("a/b.txt.gz")),
            Some(PathBuf::from("a/b.txt"))
        );
        assert_eq!(
            strip_suffix(Path::new("x.tgz")),
            Some(PathBuf::from("x.tar"))
        );
        assert_eq!(strip_suffix(Path::new("x.z")), Some(PathBuf::from("x")));
        assert_eq!(strip_suffix(Path::new("x.txt")), None);
        assert_eq!(strip_suffix(Path::new(".gz")), None);
    }
}
