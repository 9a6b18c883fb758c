//! [`Writer`]: `std::io::Write` into one gzip member, compressed by the embedded pool
//! or a fleet. What is written is cut into blocks exactly as the command cuts its
//! input (`compress::chunker::Cutter`), each block goes through the command's
//! dispatcher (`pipeline`), and the answers are stitched in order with their CRCs
//! joined: the same bytes `gzfleet` writes for the same settings.

use std::io::{self, Write};
use std::path::Path;

use bytes::Bytes;

use super::builder::WriterBuilder;
use super::error::Error;
use super::pipeline::Pipeline;
use super::sink::FileSink;
use crate::compress::chunker::Cutter;
use crate::compress::dispatch::Compressed;
use crate::compress::index_out::IndexOut;
use crate::gzip::{StreamCrc, trailer};

/// What a finished member holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// Bytes written into the writer.
    pub input_bytes: u64,
    /// Bytes of the gzip member, header and trailer included.
    pub output_bytes: u64,
    /// CRC-32 of the input (the trailer's).
    pub crc32: u32,
    /// Chunks it was compressed as.
    pub chunks: u64,
}

/// Writes one gzip member into `W` on many threads (or many machines).
///
/// Memory stays bounded however much is written and however fast: one block being
/// filled, and at most a window of chunks (twice what the fleet holds in flight, at
/// most 512 MiB) between the caller and the sink; a caller that writes faster than
/// the fleet compresses waits in `write`. Zero-length writes are fine.
///
/// An error in the pool or the fleet is returned by the next call (`write`, `flush`,
/// `finish`), never lost; after it every call fails.
///
/// [`Writer::flush`] is a sync point, as gzip's `Z_SYNC_FLUSH`: the block being
/// filled is cut where it is, everything written so far is compressed and written to
/// the sink, and the sink flushed; what the sink holds then decodes to all of it. A
/// flush with a block part-filled makes output that differs from the command's.
///
/// Dropped without [`Writer::finish`], no trailer is written: a [`FileSink`]
/// removes its temporary file; any other sink keeps what it got, a member cut short
/// that every decoder refuses.
///
/// Do not use it from inside an async runtime's thread: like `std::io`, it blocks.
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("data.gz");
/// let mut w = gzfleet_coordinator::WriterBuilder::new().index(true).create(&path)?;
/// for i in 0..100_000 {
///     writeln!(w, "line {i}")?;
/// }
/// assert!(!path.exists(), "only finish puts it in place");
/// let done = w.finish()?;
/// assert!(path.exists() && dir.path().join("data.gzi").exists());
/// assert_eq!(done.output_bytes, std::fs::metadata(&path)?.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Writer<W: Write> {
    /// None only once finished.
    sink: Option<W>,
    pipeline: Pipeline,
    cutter: Cutter,
    /// The block being filled.
    pending: Vec<u8>,
    block: usize,
    crc: StreamCrc,
    /// Bytes given to the sink: where the next goes.
    written: u64,
    chunks: u64,
    index: Option<IndexOut>,
    /// Puts a file in place (`FileSink::commit`) once the trailer is written.
    commit: Option<fn(&mut W) -> Result<(), Error>>,
    /// A call failed: every later one does.
    failed: bool,
}

impl Writer<FileSink> {
    /// A writer of the file `path` with the default settings: see
    /// [`WriterBuilder::create`].
    pub fn create(path: impl AsRef<Path>) -> Result<Self, Error> {
        WriterBuilder::new().create(path)
    }
}

impl<W: Write> Writer<W> {
    /// A writer into `sink` with the default settings: see [`WriterBuilder::build`].
    pub fn new(sink: W) -> Result<Self, Error> {
        WriterBuilder::new().build(sink)
    }

    pub(crate) fn start(
        settings: &WriterBuilder,
        mut sink: W,
        index: Option<&Path>,
    ) -> Result<Self, Error> {
        let encoding = settings.encoding()?;
        let index = index
            .map(|p| IndexOut::create(p, settings.overwrites()))
            .transpose()
            .map_err(Error::internal)?;
        let pipeline = Pipeline::start(
            settings.fleet()?,
            settings.job(encoding),
            settings.dispatch(),
        )?;
        let header = settings.header();
        sink.write_all(&header)
            .map_err(|e| Error::io("writing the header", e))?;
        Ok(Writer {
            sink: Some(sink),
            cutter: Cutter::new(&encoding, pipeline.chunk_crcs),
            pipeline,
            pending: Vec::new(),
            block: encoding.block as usize,
            crc: StreamCrc::default(),
            written: header.len() as u64,
            chunks: 0,
            index,
            commit: None,
            failed: false,
        })
    }

    pub(crate) fn committing(mut self, commit: fn(&mut W) -> Result<(), Error>) -> Self {
        self.commit = Some(commit);
        self
    }

    /// The sink.
    pub fn get_ref(&self) -> &W {
        self.sink
            .as_ref()
            .expect("a writer has its sink until finished")
    }

    /// Bytes written into the writer so far.
    pub fn input_bytes(&self) -> u64 {
        self.crc.len + self.pending.len() as u64
    }

    /// Chunks sent and not yet written to the sink.
    #[doc(hidden)]
    pub fn in_flight(&self) -> u64 {
        self.pipeline.sent - self.pipeline.handed
    }

    /// Writes the rest and the trailer, flushes the sink and (for a file) puts it in
    /// place, then its index.
    pub fn finish(self) -> Result<Finished, Error> {
        self.finish_into_inner().map(|(done, _)| done)
    }

    /// As [`Writer::finish`], giving the sink back too.
    pub fn finish_into_inner(mut self) -> Result<(Finished, W), Error> {
        self.usable()?;
        self.failed = true;
        self.drain_all()?;
        self.pipeline.close()?;
        let at = self.written;
        self.put(&trailer(self.crc.crc, self.crc.len))?;
        let mut sink = self
            .sink
            .take()
            .expect("a writer has its sink until finished");
        sink.flush()
            .map_err(|e| Error::io("flushing the output", e))?;
        if let Some(index) = &mut self.index {
            index.seal(at, self.crc.len).map_err(Error::internal)?;
        }
        if let Some(commit) = self.commit {
            commit(&mut sink)?;
        }
        if let Some(index) = self.index.take() {
            index.commit().map_err(Error::internal)?;
        }
        let done = Finished {
            input_bytes: self.crc.len,
            output_bytes: self.written,
            crc32: self.crc.crc,
            chunks: self.chunks,
        };
        Ok((done, sink))
    }

    fn usable(&self) -> Result<(), Error> {
        match self.failed {
            true => Err(Error::Unsupported(
                "this writer failed or finished already; make another".into(),
            )),
            false => Ok(()),
        }
    }

    /// Sends the block being filled (if any), waiting for room under the window, and
    /// writes whatever is answered meanwhile.
    fn send_pending(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        while !self.pipeline.has_room() {
            match self.pipeline.next(true)? {
                Some(c) => self.chunk(c)?,
                None => break,
            }
        }
        let data = Bytes::from(std::mem::take(&mut self.pending));
        let chunk = self.cutter.cut(self.pipeline.sent, data);
        self.pipeline.send(chunk)?;
        while let Some(c) = self.pipeline.next(false)? {
            self.chunk(c)?;
        }
        Ok(())
    }

    /// Everything written so far, compressed and in the sink.
    fn drain_all(&mut self) -> Result<(), Error> {
        self.send_pending()?;
        while let Some(c) = self.pipeline.next(true)? {
            self.chunk(c)?;
        }
        Ok(())
    }

    fn chunk(&mut self, c: Compressed) -> Result<(), Error> {
        if let (Some(index), Some(window)) = (&mut self.index, &c.window) {
            index
                .push(self.written, self.crc.len, window)
                .map_err(Error::internal)?;
        }
        self.crc.append(c.crc32, c.len);
        self.chunks += 1;
        self.put(&c.deflate)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let sink = self
            .sink
            .as_mut()
            .expect("a writer has its sink until finished");
        sink.write_all(bytes)
            .map_err(|e| Error::io("writing the output", e))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Runs `f`, after which the writer is unusable if it failed.
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>) -> io::Result<T> {
        self.usable()?;
        let result = f(self);
        self.failed = result.is_err();
        result.map_err(io::Error::from)
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.guarded(|w| {
            if w.pending.capacity() == 0 {
                w.pending.reserve_exact(w.block);
            }
            let n = buf.len().min(w.block - w.pending.len());
            w.pending.extend_from_slice(&buf[..n]);
            if w.pending.len() == w.block {
                w.send_pending()?;
            }
            Ok(n)
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.guarded(|w| {
            w.drain_all()?;
            let sink = w
                .sink
                .as_mut()
                .expect("a writer has its sink until finished");
            sink.flush()
                .map_err(|e| Error::io("flushing the output", e))
        })
    }
}

impl<W: Write + std::fmt::Debug> std::fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("sink", &self.sink)
            .field("input_bytes", &self.input_bytes())
            .field("output_bytes", &self.written)
            .finish_non_exhaustive()
    }
}
