//! The seam between the Python classes and the coordinator library: the few calls the
//! package makes (an encoder writing one member into a `Sink`, a decoder over a path or
//! a Python file, one-shot compress/decompress) and the failures they report, sorted as
//! Python needs them. INTERIM: built on flate2, serial, until the coordinator's `api`
//! (Writer, Reader) lands; the signatures stay.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

/// What went wrong, in the categories the stdlib's exceptions draw.
#[derive(Debug)]
pub enum Fail {
    Corrupt(String),
    Truncated(String),
    Settings(String),
    Io(io::Error),
    Unsupported(String),
    Other(String),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Fail {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => Fail::Truncated(
                "Compressed file ended before the end-of-stream marker was reached".into(),
            ),
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
                Fail::Corrupt(format!("Not a gzipped file or damaged: {e}"))
            }
            _ => Fail::Io(e),
        }
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
    pub index: Option<PathBuf>,
    pub overwrite: bool,
    pub engine: Option<String>,
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

pub struct Encoder {
    inner: GzEncoder<Sink>,
    crc: crc32fast::Hasher,
}

impl Encoder {
    pub fn new(opts: &WriteOptions, sink: Sink) -> Result<Encoder, Fail> {
        if opts.level > 9 {
            return Err(Fail::Settings(format!("level {} out of 0-9", opts.level)));
        }
        if opts.index.is_some() || !opts.workers.is_empty() {
            return Err(Fail::Settings("not yet supported by the interim backend".into()));
        }
        let mut b = flate2::GzBuilder::new().mtime(opts.mtime);
        if let Some(n) = &opts.name {
            b = b.filename(n.clone());
        }
        Ok(Encoder {
            inner: b.write(sink, Compression::new(opts.level)),
            crc: crc32fast::Hasher::new(),
        })
    }

    pub fn write(&mut self, data: &[u8]) -> Result<(), Fail> {
        self.crc.update(data);
        self.inner.write_all(data).map_err(Fail::Io)
    }

    pub fn flush(&mut self) -> Result<(), Fail> {
        self.inner.flush().map_err(Fail::Io)
    }

    pub fn finish(self) -> Result<u32, Fail> {
        self.inner.finish().map_err(Fail::Io)?;
        Ok(self.crc.finalize())
    }
}

/// What a decoder reads: a file by path (parallel with an index), or any reader.
pub enum Source {
    Path(PathBuf),
    Stream(Box<dyn Read + Send>),
}

pub struct Decoder {
    inner: MultiGzDecoder<BufReader<Box<dyn Read + Send>>>,
}

impl Decoder {
    pub fn open(
        source: Source,
        _index: Option<PathBuf>,
        _threads: Option<usize>,
    ) -> Result<Decoder, Fail> {
        let r: Box<dyn Read + Send> = match source {
            Source::Path(p) => Box::new(File::open(p).map_err(Fail::Io)?),
            Source::Stream(s) => s,
        };
        Ok(Decoder {
            inner: MultiGzDecoder::new(BufReader::with_capacity(1 << 17, r)),
        })
    }

    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Fail> {
        self.inner.read(buf).map_err(Fail::from)
    }

    pub fn seekable(&self) -> bool {
        false
    }

    pub fn seek(&mut self, _to: u64) -> Result<u64, Fail> {
        Err(Fail::Settings("no index: this reader cannot seek".into()))
    }

    /// The header time of the member being read, once its header is read.
    pub fn mtime(&self) -> Option<u32> {
        self.inner.header().map(|h| h.mtime())
    }
}

pub fn compress(data: &[u8], opts: &WriteOptions) -> Result<Vec<u8>, Fail> {
    let sink = Sink::default();
    let mut e = Encoder::new(opts, sink.clone())?;
    e.write(data)?;
    e.finish()?;
    Ok(sink.take())
}

pub fn decompress(data: Vec<u8>) -> Result<Vec<u8>, Fail> {
    let mut out = Vec::new();
    MultiGzDecoder::new(&data[..]).read_to_end(&mut out).map_err(Fail::from)?;
    Ok(out)
}

pub fn engines() -> Vec<&'static str> {
    vec!["zlib-rs"]
}
