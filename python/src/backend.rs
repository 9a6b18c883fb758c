//! The seam between the Python classes and the coordinator library (`gzfleet_coordinator`'s
//! `WriterBuilder`, `Reader`): the few calls the package makes (an encoder writing one
//! member into a `Sink`, a decoder over a path or a Python file, one-shot
//! compress/decompress) and their failures, sorted as Python's exceptions need them.

use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use gzfleet_coordinator::{Error, Reader, ReaderBuilder, Writer, WriterBuilder};

/// What went wrong, in the categories the stdlib's exceptions draw.
#[derive(Debug)]
pub enum Fail {
    Corrupt(String),
    Truncated(String),
    Settings(String),
    Unsupported(String),
    Io(io::Error),
    Other(String),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        match e {
            Error::Settings(m) => Fail::Settings(m),
            Error::Corrupt { .. } => Fail::Corrupt(e.to_string()),
            Error::Truncated { .. } => Fail::Truncated(e.to_string()),
            Error::Unsupported(m) => Fail::Unsupported(m),
            Error::Exists(_) => {
                Fail::Io(io::Error::new(io::ErrorKind::AlreadyExists, e.to_string()))
            }
            Error::Io { source, .. } if source.raw_os_error().is_some() => Fail::Io(source),
            e => Fail::Other(e.to_string()),
        }
    }
}

impl From<io::Error> for Fail {
    /// An io::Error from the library's Read/Write impls carries its `Error` inside.
    fn from(e: io::Error) -> Fail {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            let inner = e
                .into_inner()
                .expect("checked")
                .downcast::<Error>()
                .expect("checked");
            return Fail::from(*inner);
        }
        Fail::Io(e)
    }
}

/// How a member is written.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub level: u32,
    pub threads: Option<usize>,
    pub workers: Vec<String>,
    pub token_file: Option<PathBuf>,
    pub block_size: Option<u64>,
    pub name: Option<Vec<u8>>,
    pub mtime: u32,
    /// Where to write the index (gztool's format), replacing a file there if `overwrite`.
    pub index: Option<PathBuf>,
    pub overwrite: bool,
    pub engine: Option<String>,
}

impl WriteOptions {
    fn builder(&self) -> WriterBuilder {
        let mut b = WriterBuilder::new()
            .level(self.level)
            .mtime(self.mtime)
            .overwrite(self.overwrite);
        if let Some(t) = self.threads {
            b = b.threads(t);
        }
        if !self.workers.is_empty() {
            b = b.workers(self.workers.iter().cloned());
        }
        if let Some(f) = &self.token_file {
            b = b.token_file(f.clone());
        }
        if let Some(s) = self.block_size {
            b = b.block_size(s);
        }
        if let Some(n) = &self.name {
            b = b.name(n);
        }
        if let Some(i) = &self.index {
            b = b.index_path(i.clone());
        }
        if let Some(e) = &self.engine {
            b = b.engine(e.clone());
        }
        b
    }
}

/// Where the compressed bytes go: a buffer the Python side empties after every call,
/// so all Python-level writing happens in the caller's thread.
#[derive(Clone, Default)]
pub struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One member being written.
pub struct Encoder(Writer<Sink>);

impl Encoder {
    pub fn new(opts: &WriteOptions, sink: Sink) -> Result<Encoder, Fail> {
        Ok(Encoder(opts.builder().build(sink)?))
    }

    pub fn write(&mut self, data: &[u8]) -> Result<(), Fail> {
        self.0.write_all(data).map_err(Fail::from)
    }

    pub fn flush(&mut self) -> Result<(), Fail> {
        self.0.flush().map_err(Fail::from)
    }

    /// Ends the member; the CRC-32 of the data.
    pub fn finish(self) -> Result<u32, Fail> {
        Ok(self.0.finish()?.crc32)
    }
}

/// What a decoder reads: a file by path (parallel with an index, seekable), or any
/// reader (in one pass).
pub enum Source {
    Path(PathBuf),
    Stream(Box<dyn Read + Send>),
}

/// Which index a file is read with.
pub enum Index {
    /// FILE.gzi beside FILE.gz, if there is one.
    Beside,
    At(PathBuf),
    /// None: one pass, as from a stream.
    No,
}

pub struct Decoder {
    inner: Reader,
    seekable: bool,
    /// The first 8 bytes of the compressed data, as they come (the header's time is
    /// in bytes 4..8).
    head: Head,
    /// Reads wait for all that was asked (a file), not only what has come (a stream).
    whole: bool,
}

impl Decoder {
    pub fn open(source: Source, index: Index, threads: Option<usize>) -> Result<Decoder, Fail> {
        let head = Head::default();
        match source {
            Source::Path(p) => {
                if let Ok(mut f) = std::fs::File::open(&p) {
                    let mut first = [0u8; 8];
                    let n = read_up_to(&mut f, &mut first);
                    head.saw(&first[..n]);
                }
                let mut b = ReaderBuilder::new();
                if let Some(t) = threads {
                    b = b.threads(u32::try_from(t).unwrap_or(u32::MAX));
                }
                match index {
                    Index::Beside => {}
                    Index::At(i) => b = b.index(i),
                    Index::No => {
                        let f = std::fs::File::open(&p).map_err(|e| {
                            Fail::Io(io::Error::new(e.kind(), format!("{}: {e}", p.display())))
                        })?;
                        let inner = Reader::new(io::BufReader::with_capacity(1 << 17, f))?;
                        return Ok(Decoder {
                            inner,
                            seekable: false,
                            head,
                            whole: true,
                        });
                    }
                }
                let inner = b.open(&p)?;
                Ok(Decoder {
                    inner,
                    seekable: true,
                    head,
                    whole: true,
                })
            }
            Source::Stream(s) => {
                let probe = Probe {
                    inner: s,
                    head: head.clone(),
                };
                let inner = Reader::new(probe)?;
                Ok(Decoder {
                    inner,
                    seekable: false,
                    head,
                    whole: false,
                })
            }
        }
    }

    /// Up to `buf.len()` bytes; 0 at the end. Bytes after the last member that are not
    /// zeros fail there, as the stdlib's gzip refuses them.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Fail> {
        let n = self.inner.read(buf)?;
        if n == 0
            && !buf.is_empty()
            && let Some(s) = self.inner.summary()
            && s.trailing_garbage > 0
        {
            return Err(Fail::Corrupt(format!(
                "Not a gzipped file: {} bytes of trailing garbage after the last member",
                s.trailing_garbage
            )));
        }
        Ok(n)
    }

    /// As [`Decoder::read`], until `buf` is full or the data ends (from a file), or
    /// until something came (from a stream, which may be live).
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<usize, Fail> {
        let mut got = 0;
        while got < buf.len() {
            let n = self.read(&mut buf[got..])?;
            got += n;
            if n == 0 || !self.whole {
                break;
            }
        }
        Ok(got)
    }

    pub fn seekable(&self) -> bool {
        self.seekable
    }

    /// Whether seeks go straight to an index point (and reading is parallel).
    pub fn indexed(&self) -> bool {
        self.inner.has_index()
    }

    pub fn seek(&mut self, to: u64) -> Result<u64, Fail> {
        self.inner.seek(SeekFrom::Start(to)).map_err(Fail::from)
    }

    /// The header time of the first member, once its header is read.
    pub fn mtime(&self) -> Option<u32> {
        self.head.mtime()
    }
}

#[derive(Clone, Default)]
struct Head(Arc<Mutex<Vec<u8>>>);

impl Head {
    fn saw(&self, bytes: &[u8]) {
        let mut h = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let room = 8usize.saturating_sub(h.len());
        h.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn mtime(&self) -> Option<u32> {
        let h = self.0.lock().unwrap_or_else(|p| p.into_inner());
        (h.len() == 8 && h[..2] == [0x1f, 0x8b])
            .then(|| u32::from_le_bytes([h[4], h[5], h[6], h[7]]))
    }
}

/// A stream that notes its first bytes in passing.
struct Probe {
    inner: Box<dyn Read + Send>,
    head: Head,
}

impl Read for Probe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.head.saw(&buf[..n]);
        Ok(n)
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

/// `data` as one gzip member (no name) at `level`, stamped `mtime`.
pub fn compress(data: &[u8], opts: &WriteOptions) -> Result<Vec<u8>, Fail> {
    let mut w = opts
        .builder()
        .build(Vec::with_capacity(data.len() / 3 + 64))?;
    w.write_all(data).map_err(Fail::from)?;
    Ok(w.finish_into_inner()?.1)
}

/// Every member of `data`, decoded; trailing garbage refused as the stdlib does.
pub fn decompress(data: Vec<u8>) -> Result<Vec<u8>, Fail> {
    let mut d = Decoder {
        inner: Reader::new(Cursor::new(data))?,
        seekable: false,
        head: Head::default(),
        whole: true,
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 18];
    loop {
        let n = d.read(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// The deflate engines this build has.
pub fn engines() -> Vec<&'static str> {
    gzfleet_coordinator::api::engines()
}
