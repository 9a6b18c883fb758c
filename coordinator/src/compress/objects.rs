//! Objects on the compress path: an object read as an input (ranged GETs, several in
//! flight so one request's latency does not cap throughput), and an object written as
//! an output (a multipart upload of the stitched stream, in order, completed only after
//! the trailer and aborted otherwise, so no complete-looking object exists unless the
//! run succeeded).
//!
//! The reader and the writer are plain threads: object I/O runs on a small runtime of
//! its own, which they block on.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, Read};
use std::sync::OnceLock;

use bytes::Bytes;
use gzfleet_worker::objects::{Object, ObjectError, Version};
use object_store::{MultipartUpload, PutPayload};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::error::{Error, Place};

/// Bytes per GET while reading an object, and GETs kept in flight.
const READ_PART: u64 = 8 << 20;
const READS_IN_FLIGHT: usize = 4;
/// Bytes per uploaded part (S3 wants at least 5 MiB but for the last), and uploads in
/// flight.
const UPLOAD_PART: usize = 8 << 20;
const UPLOADS_IN_FLIGHT: usize = 4;

/// The runtime object I/O runs on, started on first use.
fn io() -> &'static Runtime {
    static IO: OnceLock<Runtime> = OnceLock::new();
    IO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("objects")
            .enable_all()
            .build()
            .expect("starting the object I/O runtime")
    })
}

/// Runs `work` to completion on the object runtime, from any thread: from inside
/// another runtime (the dispatcher's) it waits on a thread of its own, as a runtime
/// may not block inside another.
pub(crate) fn block_on<F>(work: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return io().block_on(work);
    }
    std::thread::scope(|s| {
        s.spawn(|| io().block_on(work))
            .join()
            .expect("object I/O thread")
    })
}

/// Opens `url` and learns its current version.
pub(crate) fn open(url: &str) -> Result<(Object, Version), Error> {
    let object = Object::open(url)?;
    let version = block_on(object.version())?;
    Ok((object, version))
}

/// An object as a byte stream from `offset`, fetched in parts, several at a time.
pub(crate) struct ObjectReader {
    object: Object,
    version: Version,
    next: u64,
    fetching: VecDeque<JoinHandle<Result<Bytes, ObjectError>>>,
    current: Bytes,
}

impl ObjectReader {
    pub fn new(object: Object, version: Version, offset: u64) -> Self {
        ObjectReader {
            object,
            version,
            next: offset,
            fetching: VecDeque::new(),
            current: Bytes::new(),
        }
    }

    /// Keeps READS_IN_FLIGHT GETs going, in order.
    fn fetch_ahead(&mut self) {
        while self.fetching.len() < READS_IN_FLIGHT && self.next < self.version.size {
            let end = (self.next + READ_PART).min(self.version.size);
            let (object, version, range) =
                (self.object.clone(), self.version.clone(), self.next..end);
            self.fetching
                .push_back(io().spawn(async move { object.read(range, &version).await }));
            self.next = end;
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.current.is_empty() {
            self.fetch_ahead();
            let Some(part) = self.fetching.pop_front() else {
                return Ok(0);
            };
            self.current = block_on(part)
                .map_err(io::Error::other)?
                .map_err(io::Error::other)?;
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// An object being written: a multipart upload that exists as an object only once
/// completed.
///
/// Parts are cut and sent here rather than through `WriteMultipart`, whose `write`
/// spawns on the caller's runtime: the writer is a plain thread, and every future here
/// runs on the object runtime instead.
pub(crate) struct ObjectOutput {
    url: String,
    /// Held until `complete` succeeds: until then, dropping this aborts the upload.
    upload: Option<Box<dyn MultipartUpload>>,
    /// Bytes not yet sent as a part.
    buffer: Vec<u8>,
    uploading: VecDeque<JoinHandle<object_store::Result<()>>>,
    written: u64,
}

impl ObjectOutput {
    pub fn create(url: &str) -> Result<Self, Error> {
        let object = Object::open(url)?;
        let upload = block_on(object.store().put_multipart(object.path()))
            .map_err(|e| write_error(url, e))?;
        Ok(ObjectOutput {
            url: url.into(),
            upload: Some(upload),
            buffer: Vec::with_capacity(UPLOAD_PART),
            uploading: VecDeque::new(),
            written: 0,
        })
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn write(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        self.written += bytes.len() as u64;
        while !bytes.is_empty() {
            let n = (UPLOAD_PART - self.buffer.len()).min(bytes.len());
            self.buffer.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.buffer.len() == UPLOAD_PART {
                self.send_part()?;
            }
        }
        Ok(())
    }

    /// Sends the buffer as the next part, first waiting for the oldest upload when
    /// UPLOADS_IN_FLIGHT are going: that bounds the memory a slow store can hold.
    fn send_part(&mut self) -> Result<(), Error> {
        if self.uploading.len() >= UPLOADS_IN_FLIGHT {
            self.wait_oldest()?;
        }
        let part = std::mem::replace(&mut self.buffer, Vec::with_capacity(UPLOAD_PART));
        let upload = self.upload.as_mut().expect("written only until finished");
        // The store may look for a runtime while it builds the request.
        let _runtime = io().enter();
        let sending = upload.put_part(PutPayload::from(part));
        self.uploading.push_back(io().spawn(sending));
        Ok(())
    }

    fn wait_oldest(&mut self) -> Result<(), Error> {
        let Some(oldest) = self.uploading.pop_front() else {
            return Ok(());
        };
        match block_on(oldest) {
            Ok(sent) => sent.map_err(|e| write_error(&self.url, e)),
            Err(gone) => Err(Error::Write {
                output: Place::Url(self.url.clone()),
                source: io::Error::other(gone),
            }),
        }
    }

    /// Sends what is left, waits for every part, runs `before_complete` (what must
    /// happen before the object changes: the old index goes), then completes the
    /// upload: only now does the object exist. Either failing, the upload is aborted.
    pub fn finish(
        mut self,
        before_complete: impl FnOnce() -> Result<(), Error>,
    ) -> Result<u64, Error> {
        // A store wants at least one part, even for an empty stream.
        if !self.buffer.is_empty() || self.written == 0 {
            self.send_part()?;
        }
        while !self.uploading.is_empty() {
            self.wait_oldest()?;
        }
        before_complete()?;
        let upload = self.upload.as_mut().expect("finished once");
        block_on(upload.complete()).map_err(|e| write_error(&self.url, e))?;
        self.upload = None;
        Ok(self.written)
    }
}

impl Drop for ObjectOutput {
    /// Not finished: abort, so no parts linger and no object appears.
    fn drop(&mut self) {
        for sending in self.uploading.drain(..) {
            sending.abort();
        }
        if let Some(mut upload) = self.upload.take() {
            let _ = block_on(upload.abort());
        }
    }
}

fn write_error(url: &str, e: object_store::Error) -> Error {
    Error::Write {
        output: Place::Url(url.into()),
        source: io::Error::other(e),
    }
}
