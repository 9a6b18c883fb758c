//! [`Reader`]: `std::io::Read` over a gzip stream, every member, as `gzip -d` reads
//! it: zero padding after the last member ignored, other trailing bytes ignored and
//! counted ([`Summary::trailing_garbage`], where gzip warns). A file with an index
//! (the `.gzi` beside it, or one named) is inflated on several threads, and seeks
//! jump to the index point before the offset; without one, a seek inflates from the
//! start, as Python's gzip does.
//!
//! The decoding runs on its own thread (the command's: `reading::indexed`) and hands
//! its output over through a bounded channel: at most [`PIPE_PIECES`] pieces of
//! [`PIECE`] bytes wait for the caller, however large the stream.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::error::Error;
use crate::error::{Error as Internal, Place};
use crate::gzip::{DecodeError, Decoded, decode};
use crate::index::{Found, index_path_for};
use crate::reading::indexed;
use crate::ui::{Ui, Verbosity};

/// Bytes per piece handed from the decoding thread to the caller.
pub const PIECE: usize = 256 << 10;
/// Pieces waiting at most.
pub const PIPE_PIECES: usize = 16;
/// A forward seek shorter than this reads on instead of starting again at a point.
const SKIP_AHEAD: u64 = 4 << 20;

/// What a stream read to its end held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub members: u64,
    /// Compressed bytes (without what trails the last member).
    pub compressed_bytes: u64,
    /// Bytes read (from the start, or from the last seek's offset).
    pub uncompressed_bytes: u64,
    /// Zero bytes after the last member (padding, ignored as gzip ignores it).
    pub trailing_zeros: u64,
    /// Other bytes after the last member: ignored, where `gzip -d` warns.
    pub trailing_garbage: u64,
    /// Spans of its index inflated in parallel (0: one thread).
    pub indexed_spans: u64,
}

impl From<&Decoded> for Summary {
    fn from(d: &Decoded) -> Self {
        Summary {
            members: d.members,
            compressed_bytes: d.compressed,
            uncompressed_bytes: d.uncompressed,
            trailing_zeros: d.trailing_zeros,
            trailing_garbage: d.trailing_garbage,
            indexed_spans: d.indexed_spans,
        }
    }
}

/// Settings for a [`Reader`].
#[derive(Debug, Clone, Default)]
pub struct ReaderBuilder {
    threads: Option<u32>,
    index: Option<PathBuf>,
}

impl ReaderBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Threads inflating with an index; every core when not said.
    pub fn threads(mut self, threads: u32) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// The index to read with, instead of the `.gzi` beside the file.
    pub fn index(mut self, path: impl Into<PathBuf>) -> Self {
        self.index = Some(path.into());
        self
    }

    /// Reads the file `path`, seekable.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Reader, Error> {
        let path = path.as_ref().to_path_buf();
        // Opened here, so a missing file fails now rather than at the first read.
        File::open(&path).map_err(|e| Error::io(path.display().to_string(), e))?;
        let source = Source::File {
            path,
            index: self.index.clone(),
            threads: self.threads,
        };
        let pipe = source.start(0)?;
        Ok(Reader::with(source, pipe))
    }
}

/// Reads a gzip stream: a file (parallel and seekable with an index) or any `Read`.
///
/// ```
/// use std::io::Read;
/// let gz = gzfleet_coordinator::compress(b"one member, ", 6)?;
/// let mut two = gz.clone();
/// two.extend(gzfleet_coordinator::compress(b"then another", 1)?);
/// let mut text = String::new();
/// gzfleet_coordinator::Reader::new(std::io::Cursor::new(two))?.read_to_string(&mut text)?;
/// assert_eq!(text, "one member, then another");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reader {
    source: Source,
    pipe: Pipe,
    /// The piece being read, and how far.
    piece: Vec<u8>,
    at: usize,
    position: u64,
    summary: Option<Summary>,
}

enum Source {
    File {
        path: PathBuf,
        index: Option<PathBuf>,
        threads: Option<u32>,
    },
    Stream,
}

enum Msg {
    Data(Vec<u8>),
    End(Result<Decoded, Error>),
}

/// The decoding thread's output.
struct Pipe(Receiver<Msg>);

impl Reader {
    /// Reads the file `path` with the defaults: see [`ReaderBuilder::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        ReaderBuilder::new().open(path)
    }

    /// Reads `input` (not seekable), decoded on another thread.
    pub fn new<R: Read + Send + 'static>(input: R) -> Result<Self, Error> {
        let (tx, rx) = sync_channel(PIPE_PIECES);
        spawn(move || {
            let mut out = BufWriter::with_capacity(PIECE, PipeWriter(tx.clone()));
            let decoded = decode(input, &mut out)
                .and_then(|d| out.flush().map(|()| d).map_err(DecodeError::Write));
            let _ = tx.send(Msg::End(ended(decoded.map_err(|source| {
                Internal::Corrupt {
                    input: Place::Stdin,
                    source,
                    found: None,
                }
            }))));
        })?;
        Ok(Reader::with(Source::Stream, Pipe(rx)))
    }

    fn with(source: Source, pipe: Pipe) -> Self {
        Reader {
            source,
            pipe,
            piece: Vec::new(),
            at: 0,
            position: 0,
            summary: None,
        }
    }

    /// What the stream held, once read to its end.
    pub fn summary(&self) -> Option<Summary> {
        self.summary
    }

    /// Whether this file is read with an index (in parallel, seeking to points).
    pub fn has_index(&self) -> bool {
        match &self.source {
            Source::File { path, index, .. } => {
                matches!(Found::look(path, index.as_deref()), Found::Usable(_))
            }
            Source::Stream => false,
        }
    }

    fn fill(&mut self) -> Result<bool, Error> {
        while self.at == self.piece.len() {
            if self.summary.is_some() {
                return Ok(false);
            }
            match self.pipe.0.recv() {
                Ok(Msg::Data(d)) => {
                    self.piece = d;
                    self.at = 0;
                }
                Ok(Msg::End(Ok(d))) => self.summary = Some(Summary::from(&d)),
                Ok(Msg::End(Err(e))) => return Err(e),
                Err(_) => {
                    return Err(Error::internal(Internal::Fatal(
                        "the decoding thread is gone".into(),
                    )));
                }
            }
        }
        Ok(true)
    }
}

impl Read for Reader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || !self.fill()? {
            return Ok(0);
        }
        let n = out.len().min(self.piece.len() - self.at);
        out[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for Reader {
    /// To an offset in the uncompressed data, from the start or from here (the end is
    /// not known before reading it, as for Python's gzip). Past the end, reads give
    /// nothing. Only a reader of a file seeks.
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
            SeekFrom::End(_) => None,
        };
        let Some(target) = target else {
            return Err(
                Error::Unsupported("seeking from the end, or before the start".into()).into(),
            );
        };
        if matches!(self.source, Source::Stream) {
            return Err(Error::Unsupported(
                "a stream read from a Read cannot seek; open a file".into(),
            )
            .into());
        }
        if target >= self.position && target - self.position < SKIP_AHEAD {
            let skip = target - self.position;
            io::copy(&mut self.by_ref().take(skip), &mut io::sink())?;
            // Past the end, as after any seek there: nothing more to read.
            self.position = target;
            return Ok(target);
        }
        self.pipe = self.source.start(target)?;
        self.piece.clear();
        self.at = 0;
        self.position = target;
        self.summary = None;
        Ok(target)
    }
}

impl Source {
    /// Decoding from uncompressed byte `offset` on, on a thread of its own. The one
    /// before, if any, stops at its next piece (nobody receives it).
    fn start(&self, offset: u64) -> Result<Pipe, Error> {
        let Source::File {
            path,
            index,
            threads,
        } = self
        else {
            return Err(Error::Unsupported("a stream cannot start again".into()));
        };
        let (path, index, threads) = (path.clone(), index.clone(), *threads);
        let (tx, rx) = sync_channel(PIPE_PIECES);
        spawn(move || {
            let opts = indexed::Options {
                processes: threads,
                index_file: index.as_deref(),
                offset: (offset > 0).then_some(offset),
                length: None,
                passthrough: false,
            };
            let decoded = inflate_file(&path, &opts, &tx);
            let _ = tx.send(Msg::End(ended(decoded)));
        })?;
        Ok(Pipe(rx))
    }
}

fn inflate_file(
    path: &Path,
    opts: &indexed::Options,
    tx: &SyncSender<Msg>,
) -> Result<Decoded, Internal> {
    let file = File::open(path).map_err(|source| Internal::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let quiet = Ui::new(Verbosity {
        quiet: true,
        verbose: 0,
    });
    let mut out = BufWriter::with_capacity(PIECE, PipeWriter(tx.clone()));
    let input = BufReader::with_capacity(1 << 16, file);
    let place = Place::Path(path.to_path_buf());
    let decoded = indexed::inflate(opts, path, input, &mut out, &place, &quiet)?;
    out.flush().map_err(|source| Internal::Write {
        output: place,
        source,
    })?;
    Ok(decoded)
}

/// An empty input is an empty stream (as Python's gzip reads it; gzip -d calls it
/// an error).
fn ended(decoded: Result<Decoded, Internal>) -> Result<Decoded, Error> {
    match decoded {
        Err(Internal::Corrupt {
            source: DecodeError::Empty,
            ..
        }) => Ok(Decoded::default()),
        other => other.map_err(Error::internal),
    }
}

fn spawn(f: impl FnOnce() + Send + 'static) -> Result<(), Error> {
    std::thread::Builder::new()
        .name("gzfleet-reader".into())
        .spawn(f)
        .map(|_| ())
        .map_err(|e| Error::io("cannot start the decoding thread", e))
}

/// Hands the decoder's output to the reader; fails once the reader is gone, which
/// stops the decoder.
struct PipeWriter(SyncSender<Msg>);

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .send(Msg::Data(buf.to_vec()))
            .map(|()| buf.len())
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader is gone"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where the index of `gz` is looked for when none is named.
pub fn index_path(gz: impl AsRef<Path>) -> PathBuf {
    index_path_for(gz.as_ref())
}
