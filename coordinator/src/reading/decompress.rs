//! `gzfleet decompress`: FILE.gz -> FILE through a partial file, or to stdout. A write
//! failure names the output (a full disk is not a corrupt input), and a reader that
//! went away (`| head`) ends the command quietly, as it ends gzip. With -f, data that
//! is not compressed goes to stdout unchanged, as gzip -cdf sends it.

use std::fs::{self, Metadata};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::names::{find_input, strip_suffix_or};
use super::{Tally, indexed, inputs, is_stdin, open, place, restore};
use crate::cli::DecompressArgs;
use crate::compress::output::is_folder;
use crate::compress::walk;
use crate::error::{Error, Place};
use crate::gzip::{Decoded, Warning};
use crate::index::index_path_for;
use crate::partial::PartialFile;
use crate::signals;
use crate::ui::Ui;

pub(crate) fn decompress(args: &DecompressArgs, ui: &Ui) -> Result<Tally, Error> {
    let mut tally = Tally::default();
    let files = expand(args, &mut tally, ui);
    if args.output.is_some() && files.len() > 1 {
        return Err(Error::Usage("-o/--output takes a single input".into()));
    }
    signals::install();
    for path in &files {
        if signals::interrupted() {
            return Err(Error::Interrupted);
        }
        match decompress_one(args, path, ui) {
            Err(e @ Error::Interrupted) => return Err(e),
            Err(e) if e.is_broken_pipe() => return Err(e),
            Err(e) => tally.error(ui, e),
            Ok(d) => report(ui, &mut tally, &place(path), &d),
        }
    }
    Ok(tally)
}

/// What is said of a file decompressed: its warnings, and with -v its sizes.
fn report(ui: &Ui, tally: &mut Tally, input: &Place, d: &Decoded) {
    super::warnings(ui, tally, input, d);
    match d {
        d if d.trailing_garbage > 0 => tally.warn(
            ui,
            format!(
                "{input}: decompression OK, trailing garbage ignored ({} bytes)",
                d.trailing_garbage
            ),
        ),
        // Silent, as in gzip (whose -v says so and exits 2; our status never
        // depends on -v).
        d if d.trailing_zeros > 0 => ui.info(format!(
            "{input}: {} -> {} bytes ({} trailing zero bytes ignored)",
            d.compressed, d.uncompressed, d.trailing_zeros
        )),
        d if d.indexed_spans > 0 => ui.info(format!(
            "{input}: {} -> {} bytes ({} spans of its index in parallel, {} by libdeflate)",
            d.compressed, d.uncompressed, d.indexed_spans, d.whole_spans
        )),
        d => ui.info(format!(
            "{input}: {} -> {} bytes",
            d.compressed, d.uncompressed
        )),
    }
}

/// The inputs: the names given, and with -r the files below each directory named that
/// have a compressed suffix (the others are passed over silently, as by gzip -dr).
fn expand(args: &DecompressArgs, tally: &mut Tally, ui: &Ui) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for name in inputs(&args.files) {
        if !(args.recursive && name.is_dir()) {
            files.push(name);
            continue;
        }
        let (below, unreadable) = walk::expand(&[name], true);
        unreadable.into_iter().for_each(|e| tally.error(ui, e));
        let custom = args.suffix.as_deref();
        files.extend(
            below
                .into_iter()
                .map(|n| n.path)
                .filter(|p| strip_suffix_or(p, custom).is_some()),
        );
    }
    files
}

/// One input: to stdout, or to the file its name (or -N's stored name) gives.
fn decompress_one(args: &DecompressArgs, named: &Path, ui: &Ui) -> Result<Decoded, Error> {
    // `gzip -d F` reads F.gz when F does not exist.
    let found = find_input(named, args.suffix.as_deref()).map_err(|missing| Error::Open {
        source: io::Error::from_raw_os_error(libc::ENOENT),
        path: missing,
    })?;
    let path = found.as_path();
    let to_stdout = args.stdout
        || args.output.as_deref() == Some(Path::new("-"))
        || (is_stdin(path) && args.output.is_none());
    // gzip's checks on the input come first: a directory is named as one, not as a
    // name without a suffix.
    let input = open(path, args.force, !to_stdout && args.output.is_none())?;
    let opts = indexed::Options {
        processes: args.processes,
        index_file: args.index_file.as_deref(),
        offset: args.offset,
        length: args.length,
        passthrough: args.force && to_stdout,
    };
    // The input's times as they were before reading it moved its atime.
    let like = (!is_stdin(path)).then(|| fs::metadata(path).ok()).flatten();
    let mut input = BufReader::with_capacity(1 << 16, input);
    let restore = args.name && !args.no_name;
    let stored = match restore {
        true => restore::stored(input.fill_buf().map_err(|source| Error::Read {
            input: place(path),
            source,
        })?),
        false => restore::Stored::default(),
    };
    let Some(target) = target(args, path, &stored, to_stdout)? else {
        return to_stdout_(&opts, path, input, ui);
    };
    let file = ToFile {
        args,
        path,
        target,
        like,
        mtime: stored.mtime.filter(|_| restore),
    };
    file.write(&opts, input, ui)
}

/// Where the output of `path` goes: None for stdout.
fn target(
    args: &DecompressArgs,
    path: &Path,
    stored: &restore::Stored,
    to_stdout: bool,
) -> Result<Option<PathBuf>, Error> {
    if to_stdout {
        return Ok(None);
    }
    if let Some(p) = &args.output {
        return Ok(Some(p.clone()));
    }
    match (&stored.name, strip_suffix_or(path, args.suffix.as_deref())) {
        (Some(name), _) => Ok(Some(super::parent(path).join(name))),
        (None, Some(stripped)) => Ok(Some(stripped)),
        (None, None) => Err(Error::Refused(format!(
            "{}: unknown suffix -- ignored (expected .gz, .tgz, .z or .Z; use -c, -o or -S)",
            path.display()
        ))),
    }
}

/// Decompressed data goes to stdout, a terminal too, as gzip and zcat send it.
fn to_stdout_(
    opts: &indexed::Options,
    path: &Path,
    input: impl Read,
    ui: &Ui,
) -> Result<Decoded, Error> {
    let mut out = Interruptible(io::stdout().lock());
    let decoded = indexed::inflate(opts, path, input, &mut out, &Place::Stdout, ui)?;
    out.flush().map_err(|source| Error::Write {
        output: Place::Stdout,
        source,
    })?;
    Ok(decoded)
}

/// An output file: written as a partial file, renamed into place once complete.
struct ToFile<'a> {
    args: &'a DecompressArgs,
    path: &'a Path,
    target: PathBuf,
    /// The input's metadata, which the output takes.
    like: Option<Metadata>,
    /// -N: the stored time, as gzip restores it; else the input file's.
    mtime: Option<std::time::SystemTime>,
}

impl ToFile<'_> {
    fn write(self, opts: &indexed::Options, input: impl Read, ui: &Ui) -> Result<Decoded, Error> {
        if !self.args.force && fs::symlink_metadata(&self.target).is_ok() {
            return Err(Error::Exists(self.target));
        }
        let mut partial = PartialFile::create(&self.target, self.args.force)?;
        let output = partial.place();
        let mut out = Interruptible(&mut partial);
        let decoded = indexed::inflate(opts, self.path, input, &mut out, &output, ui)
            .and_then(|d| self.refuse_more_entries(d));
        match decoded {
            Ok(decoded) => {
                self.finish(partial)?;
                Ok(decoded)
            }
            Err(e) => {
                partial.discard();
                Err(e)
            }
        }
    }

    /// A zip file with more than one entry is not replaced by its first, as gzip
    /// refuses it: removing the input would lose the others.
    fn refuse_more_entries(&self, d: Decoded) -> Result<Decoded, Error> {
        match d.warnings.contains(&Warning::ZipMoreEntries) {
            true => Err(Error::Fatal(format!(
                "{} has more than one entry -- unchanged",
                self.path.display()
            ))),
            false => Ok(d),
        }
    }

    /// The output renamed into place; with --rm, the input (and its index) removed.
    fn finish(&self, mut partial: PartialFile) -> Result<(), Error> {
        // A .gz written over another (x.gz.gz -> x.gz) must not keep the old one's
        // index beside it. Only then: for any other name, the index readers would
        // look for beside the output is the input's own (data -> data.gzi). A folder
        // of that name is no index: readers fail to open it, and say so.
        let target = &self.target;
        let stale: Vec<PathBuf> = Some(index_path_for(target))
            .filter(|p| target.extension().is_some_and(|e| e == "gz") && !is_folder(p))
            .into_iter()
            .collect();
        partial.commit_replacing(self.like.as_ref(), self.mtime, &stale)?;
        if self.args.rm && !is_stdin(self.path) {
            fs::remove_file(self.path).map_err(|source| Error::Remove {
                path: self.path.to_path_buf(),
                source,
            })?;
            // Its index goes with it, as gzip's input goes: left alone it would wait
            // for the next file of that name, describing other bytes. Best effort: the
            // output is complete either way, and readers check.
            let _ = fs::remove_file(index_path_for(self.path));
        }
        Ok(())
    }
}

/// A writer that stops once SIGINT or SIGTERM arrived. The decoder writes every
/// 256 KiB: a good place to notice Ctrl-C, so the caller can remove a partial file.
/// (Not `ErrorKind::Interrupted`: `write_all` retries that.)
struct Interruptible<W>(W);

impl<W: Write> Write for Interruptible<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if signals::interrupted() {
            return Err(io::Error::other("interrupted"));
        }
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
