//! The reading side: `gzfleet decompress`, `test` and `list`, with gzip's habits
//! (suffixes, -c, -f, trailing-garbage warnings) and the same rule as compression that
//! output appears under its name only once complete. Decoding itself is the shared
//! `gzip::decoder`.

mod blockcheck;
mod columns;
mod decompress;
mod indexed;
mod list;
mod restore;
mod test;

use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};

pub(crate) use decompress::decompress;
pub(crate) use list::list;
pub(crate) use test::test;

use crate::admit;
use crate::error::{Error, Place, Severity};
use crate::gzip::{Decoded, decode};
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

/// FILE.gz -> FILE, FILE.tgz -> FILE.tar, FILE.z -> FILE.
fn strip_suffix(path: &Path) -> Option<PathBuf> {
    strip_suffix_or(path, None)
}

/// As [`strip_suffix`], trying `custom` (-S) first.
fn strip_suffix_or(path: &Path, custom: Option<&str>) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let stem = if let Some(s) = custom
        .and_then(|c| name.strip_suffix(c))
        .or_else(|| name.strip_suffix(".gz"))
        .or_else(|| name.strip_suffix(".z"))
    {
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
        let strip = |p: &str| strip_suffix(Path::new(p));
        assert_eq!(strip("a/b.txt.gz"), Some(PathBuf::from("a/b.txt")));
        assert_eq!(strip("x.tgz"), Some(PathBuf::from("x.tar")));
        assert_eq!(strip("x.z"), Some(PathBuf::from("x")));
        assert_eq!(strip("x.txt"), None);
        assert_eq!(strip(".gz"), None);
        let custom = strip_suffix_or(Path::new("x.txt.zz"), Some(".zz"));
        assert_eq!(custom, Some(PathBuf::from("x.txt")));
    }
}
