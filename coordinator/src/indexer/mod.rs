//! `gzfleet index FILE.gz...`: a gztool-format index for any gzip file, made in one
//! inflation pass, so that files gzfleet did not compress get parallel and
//! random-access decompression too. As zran.c and gztool do it: a point at the first
//! block boundary (the end of the gzip header), then at the first block boundary past
//! every `--index-span` of output, with the bits of a boundary inside a byte and the
//! 32 KiB of output before it. Several members are one stream of points, with offsets
//! counted from the file's start, as gztool counts them.
//!
//! Memory is an input buffer, an output buffer and a 32 KiB ring of the last output;
//! points go to the index file
//! as they are found. The index is written under a temporary name and put in place
//! once the whole file has inflated and every member's CRC-32 and length passed.

mod blocks;

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use blocks::BlockInflater;

use crate::admit;
use crate::cli::IndexArgs;
use crate::compress::index_out::{DEFAULT_SPAN, IndexOut, index_path};
use crate::error::{Error, Place, Severity};
use crate::gzip::DecodeError;
use crate::ui::Ui;

/// Deflate's window: the history a point needs.
const WINDOW: usize = 32 << 10;
const READ_SIZE: usize = 64 << 10;

/// How a file's index ended.
struct Built {
    points: u64,
    input: u64,
    output: u64,
    /// Bytes after the last member that are neither a member nor zeros.
    garbage: u64,
}

/// Runs the command; returns the errors and warnings, as gzip counts them.
pub(crate) fn index(args: &IndexArgs, ui: &Ui) -> Result<(usize, usize), Error> {
    if args.files.is_empty() || args.files.iter().any(|f| f == Path::new("-")) {
        return Err(Error::Usage(
            "gzfleet index reads a .gz file (not stdin): name it, and its index goes beside it"
                .into(),
        ));
    }
    if args.index_file.is_some() && args.files.len() > 1 {
        return Err(Error::Usage(
            "--index-file names one index: give one file, or let each index go beside its file"
                .into(),
        ));
    }
    let span = args.index_span.unwrap_or(DEFAULT_SPAN).max(1);
    let (mut errors, mut warnings) = (0, 0);
    for path in &args.files {
        let target = args.index_file.clone().unwrap_or_else(|| index_path(path));
        match build(path, &target, span, args.force) {
            Ok(built) => {
                if built.garbage > 0 {
                    ui.warn(format!(
                        "{}: trailing garbage ignored ({} bytes); the index covers the members before it",
                        path.display(),
                        built.garbage
                    ));
                    warnings += 1;
                }
                ui.info(format!(
                    "{}: {} points, {} -> {} bytes, index {}",
                    path.display(),
                    built.points,
                    built.input,
                    built.output,
                    target.display()
                ));
            }
            Err(e) => {
                ui.problem(&e);
                match e.severity() {
                    Severity::Warning => warnings += 1,
                    Severity::Note | Severity::Detail => {}
                    Severity::Error => errors += 1,
                }
            }
        }
    }
    Ok((errors, warnings))
}

/// Indexes one file into `target`.
fn build(path: &Path, target: &Path, span: u64, force: bool) -> Result<Built, Error> {
    let (file, _) = admit::open(path, force, false)?;
    let mut index = IndexOut::create(target, force)?;
    let mut walk = Walk::new(file, path)?;
    let mut last: Option<u64> = None;
    let garbage = loop {
        match walk.next()? {
            Event::Boundary(bits) => {
                if last.is_none_or(|l| walk.output - l >= span) {
                    index.push_at(walk.input, bits, walk.output, &walk.window())?;
                    last = Some(walk.output);
                }
            }
            Event::End { garbage } => break garbage,
        }
    };
    let built = Built {
        points: index.points(),
        input: walk.input,
        output: walk.output,
        garbage,
    };
    index.seal(walk.input, walk.output)?;
    index.commit()?;
    Ok(built)
}

enum Event {
    /// At a block boundary `bits` bits before the next unread byte.
    Boundary(u8),
    /// The last member ended; `garbage` bytes that are no member follow it.
    End { garbage: u64 },
}

/// A file inflated from block boundary to block boundary, member after member.
struct Walk {
    file: File,
    place: Place,
    inflater: BlockInflater,
    buf: Vec<u8>,
    /// Unread bytes of `buf`.
    start: usize,
    end: usize,
    eof: bool,
    /// Where inflation writes: not the ring itself, since zlib-rs may scribble past the
    /// bytes it reports (its fast path copies in whole chunks), which would corrupt the
    /// oldest bytes of the window.
    out: Vec<u8>,
    /// The last 32 KiB of output, written round.
    ring: Vec<u8>,
    at: usize,
    /// Bytes read from the file and inflated: where the next point would be.
    input: u64,
    output: u64,
    member: u64,
}

impl Walk {
    fn new(file: File, path: &Path) -> Result<Walk, Error> {
        Ok(Walk {
            file,
            place: Place::Path(path.to_path_buf()),
            inflater: BlockInflater::new().map_err(Error::Fatal)?,
            buf: vec![0; READ_SIZE],
            start: 0,
            end: 0,
            eof: false,
            out: vec![0; WINDOW],
            ring: vec![0; WINDOW],
            at: 0,
            input: 0,
            output: 0,
            member: 1,
        })
    }

    /// Inflates on to the next boundary or the end.
    fn next(&mut self) -> Result<Event, Error> {
        loop {
            if self.start == self.end && !self.fill()? {
                return Err(self.corrupt(match self.input {
                    0 => DecodeError::Empty,
                    _ => self.cut_short(),
                }));
            }
            let step = self
                .inflater
                .step(&self.buf[self.start..self.end], &mut self.out);
            let step = step.map_err(|why| self.corrupt(self.invalid(Some(why))))?;
            self.start += step.consumed;
            self.input += step.consumed as u64;
            self.output += step.produced as u64;
            self.remember(step.produced);
            if step.member_end {
                if let Some(end) = self.after_member()? {
                    return Ok(end);
                }
                continue;
            }
            if let Some(bits) = step.boundary {
                return Ok(Event::Boundary(bits));
            }
        }
    }

    /// Keeps the last 32 KiB of output: the `produced` bytes just inflated.
    fn remember(&mut self, produced: usize) {
        let mut new = &self.out[..produced];
        while !new.is_empty() {
            let n = new.len().min(WINDOW - self.at);
            self.ring[self.at..self.at + n].copy_from_slice(&new[..n]);
            self.at = (self.at + n) % WINDOW;
            new = &new[n..];
        }
    }

    /// The output before the current position, at most 32 KiB.
    fn window(&self) -> Vec<u8> {
        match self.output < WINDOW as u64 {
            true => self.ring[..self.at].to_vec(),
            false => [&self.ring[self.at..], &self.ring[..self.at]].concat(),
        }
    }

    /// After a member: the next one starts (None), or the file ends, after zeros (as
    /// gzip, silently) or garbage (counted).
    fn after_member(&mut self) -> Result<Option<Event>, Error> {
        if !self.peek(2)? {
            return Ok(Some(Event::End {
                garbage: self.rest_garbage()?,
            }));
        }
        if self.buf[self.start..self.start + 2] == [0x1f, 0x8b] {
            self.inflater.next_member();
            self.member += 1;
            return Ok(None);
        }
        Ok(Some(Event::End {
            garbage: self.rest_garbage()?,
        }))
    }

    /// Reads the rest of the file: 0 if it is all zeros, else its length.
    fn rest_garbage(&mut self) -> Result<u64, Error> {
        let mut total = 0u64;
        let mut zeros = true;
        loop {
            let unread = &self.buf[self.start..self.end];
            zeros &= unread.iter().all(|&b| b == 0);
            total += unread.len() as u64;
            self.start = self.end;
            if !self.fill()? {
                return Ok(if zeros { 0 } else { total });
            }
        }
    }

    /// Makes at least `n` unread bytes available; false at the end of the file first.
    fn peek(&mut self, n: usize) -> Result<bool, Error> {
        while self.end - self.start < n {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let read = self.read_more()?;
            if read == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Refills an empty buffer; false at the end of the file.
    fn fill(&mut self) -> Result<bool, Error> {
        self.start = 0;
        self.end = 0;
        Ok(self.read_more()? > 0)
    }

    fn read_more(&mut self) -> Result<usize, Error> {
        if self.eof {
            return Ok(0);
        }
        let n = loop {
            match self.file.read(&mut self.buf[self.end..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = n.map_err(|source| Error::Read {
            input: self.place.clone(),
            source,
        })?;
        self.end += n;
        self.eof = n == 0;
        Ok(n)
    }

    fn cut_short(&self) -> DecodeError {
        self.invalid(Some("unexpected end of file".into()))
    }

    fn invalid(&self, reason: Option<String>) -> DecodeError {
        match (self.member, self.output, &reason) {
            // zlib's words for a first member without gzip's magic.
            (1, 0, Some(r)) if r == "incorrect header check" => DecodeError::NotGzip,
            _ => DecodeError::Corrupt {
                member: self.member,
                offset: self.input,
                reason,
            },
        }
    }

    fn corrupt(&self, source: DecodeError) -> Error {
        Error::Corrupt {
            input: self.place.clone(),
            source,
            found: None,
        }
    }
}
