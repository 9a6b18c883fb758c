//! `gzfleet decompress`, `gzfleet test` and `gzfleet list`: the reading side, with
//! gzip's habits (suffixes, -c, -f, trailing-garbage warnings) and the same rule as
//! compression that output appears under its name only once complete.

use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::cli::{DecompressArgs, ListArgs, TestArgs};
use crate::error::{Error, at};
use crate::gunzip::{self, DecodeError, Decoded};
use crate::gzip::read_header;
use crate::output::PartialFile;
use crate::signals;

/// How a command over several files ended, as gzip counts it.
#[derive(Debug, Default)]
pub struct Tally {
    pub errors: usize,
    pub warnings: usize,
}

impl Tally {
    fn error(&mut self, e: impl std::fmt::Display) {
        eprintln!("gzfleet: {e}");
        self.errors += 1;
    }

    fn warn(&mut self, quiet: bool, message: String) {
        if !quiet {
            eprintln!("gzfleet: {message}");
        }
        self.warnings += 1;
    }
}

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

fn open(path: &Path) -> Result<Box<dyn Read>, Error> {
    if is_stdin(path) {
        return Ok(Box::new(io::stdin().lock()));
    }
    let meta = fs::metadata(path).map_err(|e| Error::Input(at(path, &e)))?;
    if meta.is_dir() {
        return Err(Error::Input(format!(
            "{} is a directory -- ignored",
            path.display()
        )));
    }
    Ok(Box::new(
        File::open(path).map_err(|e| Error::Input(at(path, &e)))?,
    ))
}

fn name(path: &Path) -> String {
    if is_stdin(path) {
        "stdin".into()
    } else {
        path.display().to_string()
    }
}

fn describe(path: &Path, e: DecodeError) -> Error {
    Error::Format(format!("{}: {e}", name(path)))
}

pub fn decompress(args: &DecompressArgs) -> Result<Tally, Error> {
    let files = inputs(&args.files);
    if args.output.is_some() && files.len() > 1 {
        return Err(Error::Usage("-o/--output takes a single input".into()));
    }
    signals::install();
    let mut tally = Tally::default();
    for path in &files {
        if signals::interrupted() {
            return Err(Error::Interrupted);
        }
        match decompress_one(args, path) {
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Ok(d) if d.trailing_garbage > 0 => tally.warn(
                args.quiet,
                format!(
                    "{}: decompression OK, trailing garbage ignored ({} bytes)",
                    name(path),
                    d.trailing_garbage
                ),
            ),
            Ok(d) if args.verbose => eprintln!(
                "gzfleet: {}: {} -> {} bytes",
                name(path),
                d.compressed,
                d.uncompressed
            ),
            Ok(_) => {}
            Err(e) => tally.error(e),
        }
    }
    Ok(tally)
}

fn decompress_one(args: &DecompressArgs, path: &Path) -> Result<Decoded, Error> {
    let to_stdout = args.stdout
        || args.output.as_deref() == Some(Path::new("-"))
        || (is_stdin(path) && args.output.is_none());
    let target = match &args.output {
        _ if to_stdout => None,
        Some(p) => Some(p.clone()),
        None => Some(strip_suffix(path).ok_or_else(|| {
            Error::Input(format!(
                "{}: unknown suffix -- ignored (expected .gz, .tgz or .z; use -c or -o)",
                path.display()
            ))
        })?),
    };
    let input = open(path)?;
    let Some(target) = target else {
        if io::stdout().is_terminal() && !args.force {
            return Err(Error::Usage(
                "decompressed data not written to a terminal; redirect stdout, or use -f to force"
                    .into(),
            ));
        }
        let mut out = StdoutWriter(io::stdout().lock());
        let decoded = gunzip::decode(input, &mut out).map_err(|e| match e {
            _ if signals::interrupted() => Error::Interrupted,
            e => describe(path, e),
        })?;
        out.flush()
            .map_err(|e| Error::Output(format!("stdout: {}", crate::error::io_message(&e))))?;
        return Ok(decoded);
    };
    if !args.force && fs::symlink_metadata(&target).is_ok() {
        return Err(Error::Output(format!(
            "{} already exists; use -f to overwrite",
            target.display()
        )));
    }
    let mut partial = PartialFile::create(&target, args.force)?;
    let mut writer = PartialWriter(&mut partial);
    match gunzip::decode(input, &mut writer) {
        Ok(decoded) => {
            let like = if is_stdin(path) {
                None
            } else {
                fs::metadata(path).ok()
            };
            partial.commit(like.as_ref())?;
            if args.rm && !is_stdin(path) {
                fs::remove_file(path).map_err(|e| {
                    Error::Input(format!(
                        "output complete, but cannot remove input {}",
                        at(path, &e)
                    ))
                })?;
            }
            Ok(decoded)
        }
        Err(_) if signals::interrupted() => {
            partial.discard();
            Err(Error::Interrupted)
        }
        Err(e) => {
            partial.discard();
            Err(describe(path, e))
        }
    }
}

/// Adapts the partial file to `io::Write` for the decoder.
struct PartialWriter<'a>(&'a mut PartialFile);

impl Write for PartialWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        check_interrupt()?;
        self.0
            .write(buf)
            .map(|_| buf.len())
            .map_err(|e| io::Error::other(e.to_string()))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The decoder writes every 256 KiB: a good place to notice Ctrl-C and stop, so the
/// caller can remove a partial file. (Not `ErrorKind::Interrupted`: `write_all`
/// retries that.)
fn check_interrupt() -> io::Result<()> {
    if signals::interrupted() {
        return Err(io::Error::other("interrupted"));
    }
    Ok(())
}

/// Stdout that stops when interrupted.
struct StdoutWriter(io::StdoutLock<'static>);

impl Write for StdoutWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        check_interrupt()?;
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
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

pub fn test(args: &TestArgs) -> Result<Tally, Error> {
    let mut tally = Tally::default();
    for path in &args.files {
        let result = open(path).and_then(|input| {
            gunzip::decode(input, &mut io::sink()).map_err(|e| describe(path, e))
        });
        match result {
            Ok(d) if d.trailing_garbage > 0 => tally.warn(
                args.quiet,
                format!(
                    "{}: data OK, but {} bytes of trailing garbage follow it",
                    name(path),
                    d.trailing_garbage
                ),
            ),
            Ok(_) if args.verbose => eprintln!("gzfleet: {}: OK", name(path)),
            Ok(_) => {}
            Err(e) => tally.error(e),
        }
    }
    Ok(tally)
}

pub fn list(args: &ListArgs) -> Result<Tally, Error> {
    let mut tally = Tally::default();
    let mut total = (0u64, 0u64);
    if args.verbose {
        println!(
            "     crc mtime (unix s)          compressed        uncompressed  ratio uncompressed_name"
        );
    } else {
        println!("         compressed        uncompressed  ratio uncompressed_name");
    }
    for path in &args.files {
        match list_one(path) {
            Ok(entry) => {
                total.0 += entry.compressed;
                total.1 += entry.uncompressed as u64;
                let shown = strip_suffix(path).unwrap_or_else(|| path.clone());
                if args.verbose {
                    println!(
                        "{:08x} {:>14} {:>19} {:>19} {:>5.1}% {}",
                        entry.crc,
                        entry.mtime,
                        entry.compressed,
                        entry.uncompressed,
                        ratio(entry.compressed, entry.uncompressed as u64),
                        shown.display()
                    );
                } else {
                    println!(
                        "{:>19} {:>19} {:>5.1}% {}",
                        entry.compressed,
                        entry.uncompressed,
                        ratio(entry.compressed, entry.uncompressed as u64),
                        shown.display()
                    );
                }
            }
            Err(e) => tally.error(e),
        }
    }
    if args.files.len() > 1 {
        println!(
            "{:>19} {:>19} {:>5.1}% (totals)",
            total.0,
            total.1,
            ratio(total.0, total.1)
        );
    }
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
    let mut file = File::open(path).map_err(|e| Error::Input(at(path, &e)))?;
    let len = file
        .metadata()
        .map_err(|e| Error::Input(at(path, &e)))?
        .len();
    let header = read_header(&mut io::BufReader::new(&mut file))
        .map_err(|e| Error::Format(format!("{}: {e}", path.display())))?;
    if len < header.len + 10 {
        return Err(Error::Format(format!(
            "{}: unexpected end of file: the data is truncated",
            path.display()
        )));
    }
    let mut trailer = [0u8; 8];
    file.seek(SeekFrom::Start(len - 8))
        .and_then(|_| file.read_exact(&mut trailer))
        .map_err(|e| Error::Input(at(path, &e)))?;
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
