//! [`WriterBuilder`]: a `Writer`'s settings, checked by the command line's own rules
//! (`compress::plan`), so a setting means what the same option means to `gzfleet`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gzfleet_worker::engine::Engine;
use gzfleet_worker::limits::{MAX_CHUNK, MIN_CHUNK};

use super::error::Error;
use super::sink::FileSink;
use super::writer::Writer;
use crate::compress::JobParams;
use crate::compress::dispatch::DispatchConfig;
use crate::compress::index_out::{default_span, index_path, step};
use crate::compress::plan::{Encoding, FleetPlan};
use crate::fleet::{CredentialFiles, Credentials, Discovery};
use crate::gzip::Header;

/// The block size `gzfleet` uses unless told (`-b`).
pub const DEFAULT_BLOCK_SIZE: u64 = 1 << 20;
/// The level `gzfleet` uses unless told.
pub const DEFAULT_LEVEL: u32 = 6;

/// Settings for a [`Writer`]; [`WriterBuilder::build`] for any `Write` sink,
/// [`WriterBuilder::create`] for a file.
///
/// ```
/// use std::io::Write;
/// let mut w = gzfleet_coordinator::WriterBuilder::new()
///     .level(9)
///     .threads(2)
///     .name("notes.txt")
///     .mtime(1_700_000_000)
///     .build(Vec::new())?;
/// w.write_all(b"hello, fleet\n")?;
/// let (done, gz) = w.finish_into_inner()?;
/// assert_eq!(done.input_bytes, 13);
/// assert_eq!(gzfleet_coordinator::decompress(&gz)?, b"hello, fleet\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct WriterBuilder {
    level: u32,
    engine: Option<String>,
    block: u64,
    independent: bool,
    threads: Option<usize>,
    workers: Vec<String>,
    tls: bool,
    tls_ca: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    token_file: Option<PathBuf>,
    max_attempts: u32,
    wait_workers: Duration,
    verify: bool,
    name: Option<Vec<u8>>,
    mtime: u32,
    index: Option<IndexTarget>,
    index_span: Option<u64>,
    overwrite: bool,
}

/// Where an index goes.
#[derive(Debug, Clone)]
enum IndexTarget {
    /// Beside the file [`WriterBuilder::create`] writes, as `gzfleet --index` puts it.
    Beside,
    Path(PathBuf),
}

impl Default for WriterBuilder {
    fn default() -> Self {
        WriterBuilder {
            level: DEFAULT_LEVEL,
            engine: None,
            block: DEFAULT_BLOCK_SIZE,
            independent: false,
            threads: None,
            workers: Vec::new(),
            tls: false,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            token_file: None,
            max_attempts: 5,
            wait_workers: Duration::from_secs(60),
            verify: false,
            name: None,
            mtime: 0,
            index: None,
            index_span: None,
            overwrite: false,
        }
    }
}

impl WriterBuilder {
    /// Level 6, the level's default engine, 1 MiB blocks, every core, no name, mtime
    /// 0: what `gzfleet -c < input` writes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Deflate level: 1-9 (0 stores), 10-12 with the libdeflate engine.
    pub fn level(mut self, level: u32) -> Self {
        self.level = level;
        self
    }

    /// The chunk engine by name (`gzfleet --engine`: "zlib-rs", "libdeflate", "isal"
    /// where built in, or "auto").
    pub fn engine(mut self, name: impl Into<String>) -> Self {
        self.engine = Some(name.into());
        self
    }

    /// Bytes of input per chunk (`-b`): 128 KiB to 64 MiB.
    pub fn block_size(mut self, bytes: u64) -> Self {
        self.block = bytes;
        self
    }

    /// Chunks not primed with the 32 KiB before them (`-i`).
    pub fn independent(mut self, yes: bool) -> Self {
        self.independent = yes;
        self
    }

    /// Threads of the embedded pool (`-p`); every core when not said.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// Compress on these `gzfleet-worker`s (`--workers`: host:port, `dns:` or `srv:`
    /// names) instead of the embedded pool. The token comes from
    /// [`WriterBuilder::token_file`] or `GZFLEET_TOKEN`, as for the command.
    pub fn workers<S: Into<String>>(mut self, workers: impl IntoIterator<Item = S>) -> Self {
        self.workers = workers.into_iter().map(Into::into).collect();
        self
    }

    /// The bearer token's file (`--token-file`).
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_file = Some(path.into());
        self
    }

    /// TLS to the workers with the system's roots (`--tls`).
    pub fn tls(mut self, yes: bool) -> Self {
        self.tls = yes;
        self
    }

    /// TLS trusting this CA (`--tls-ca`).
    pub fn tls_ca(mut self, pem: impl Into<PathBuf>) -> Self {
        self.tls_ca = Some(pem.into());
        self
    }

    /// A client certificate and key for mutual TLS (`--tls-cert`, `--tls-key`).
    pub fn tls_identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls_cert = Some(cert.into());
        self.tls_key = Some(key.into());
        self
    }

    /// Failed attempts allowed per chunk (`--max-attempts`, 5).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// How long to wait with no worker up before failing (`--wait-workers`, 60 s).
    pub fn wait_workers(mut self, how_long: Duration) -> Self {
        self.wait_workers = how_long;
        self
    }

    /// Inflate every answer and compare it with the input before writing it
    /// (`--verify`).
    pub fn verify(mut self, yes: bool) -> Self {
        self.verify = yes;
        self
    }

    /// The file name stored in the header (FNAME); none by default.
    pub fn name(mut self, name: impl AsRef<[u8]>) -> Self {
        self.name = Some(name.as_ref().to_vec());
        self
    }

    /// The modification time stored in the header, in Unix seconds (0: none).
    pub fn mtime(mut self, secs: u32) -> Self {
        self.mtime = secs;
        self
    }

    /// Write a gztool index (`.gzi`) to `path` as `gzfleet --index-file` does: under a
    /// temporary name, put in place by `finish`.
    pub fn index_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.index = Some(IndexTarget::Path(path.into()));
        self
    }

    /// Write the index beside the file (`FILE.gzi`), as `gzfleet --index` does; only
    /// for [`WriterBuilder::create`].
    pub fn index(mut self, yes: bool) -> Self {
        self.index = yes.then_some(IndexTarget::Beside);
        self
    }

    /// Input bytes between index points (`--index-span`).
    pub fn index_span(mut self, bytes: u64) -> Self {
        self.index_span = Some(bytes);
        self
    }

    /// Replace an existing output (and index) instead of failing (`-f`).
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }

    /// A writer of one gzip member into `sink`, the header written at once. Dropped
    /// without [`Writer::finish`], no trailer is written: what `sink` holds then is
    /// a stream cut short, which every decoder refuses.
    pub fn build<W: Write>(&self, sink: W) -> Result<Writer<W>, Error> {
        let index = match &self.index {
            None => None,
            Some(IndexTarget::Path(p)) => Some(p.clone()),
            Some(IndexTarget::Beside) => {
                return Err(Error::Settings(
                    "index(true) puts the index beside a file: use create(PATH), or index_path(PATH)"
                        .into(),
                ));
            }
        };
        Writer::start(self, sink, index.as_deref())
    }

    /// A writer of the file `path`: written under a temporary name
    /// (`PATH.gzfleet-partial`) and renamed to `path` only by [`Writer::finish`];
    /// dropped before, the temporary file is removed. An existing `path` needs
    /// [`WriterBuilder::overwrite`].
    pub fn create(&self, path: impl AsRef<Path>) -> Result<Writer<FileSink>, Error> {
        let path = path.as_ref();
        let index = match &self.index {
            None => None,
            Some(IndexTarget::Path(p)) => Some(p.clone()),
            Some(IndexTarget::Beside) => Some(index_path(path)),
        };
        let sink = FileSink::create(path, self.overwrite, index.clone())?;
        Writer::start(self, sink, index.as_deref()).map(|w| w.committing(FileSink::commit))
    }

    pub(crate) fn encoding(&self) -> Result<Encoding, Error> {
        if !(MIN_CHUNK..=MAX_CHUNK).contains(&self.block) {
            return Err(Error::Settings(format!(
                "block size {} bytes is outside 128 KiB..64 MiB",
                self.block
            )));
        }
        Encoding::resolve(
            self.level,
            self.engine.as_deref(),
            self.block,
            self.independent,
        )
        .map_err(Error::internal)
    }

    pub(crate) fn job(&self, encoding: Encoding) -> JobParams {
        let span = self
            .index_span
            .unwrap_or_else(|| default_span(encoding.independent));
        JobParams {
            id: format!("lib-{}", std::process::id()),
            encoding,
            index_step: self.index.as_ref().map(|_| step(span, encoding.block)),
        }
    }

    pub(crate) fn header(&self) -> Vec<u8> {
        Header {
            name: self.name.clone(),
            mtime: self.mtime,
            level: self.level,
        }
        .encode()
    }

    pub(crate) fn overwrites(&self) -> bool {
        self.overwrite
    }

    pub(crate) fn dispatch(&self) -> DispatchConfig {
        DispatchConfig {
            max_attempts: self.max_attempts,
            wait_workers: self.wait_workers,
            verify: self.verify,
        }
    }

    pub(crate) fn fleet(&self) -> Result<FleetPlan, Error> {
        if self.workers.is_empty() {
            let threads = self
                .threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            return Ok(FleetPlan::Local { threads });
        }
        let discovery = Discovery::new(&self.workers, None).map_err(Error::Settings)?;
        let files = CredentialFiles {
            tls: self.tls,
            tls_ca: self.tls_ca.as_deref(),
            tls_cert: self.tls_cert.as_deref(),
            tls_key: self.tls_key.as_deref(),
            token_file: self.token_file.as_deref(),
        };
        let credentials = Credentials::load(&files).map_err(Error::Settings)?;
        Ok(FleetPlan::Remote {
            discovery,
            credentials: Box::new(credentials),
        })
    }
}

/// Engines this build holds, by name, for [`WriterBuilder::engine`].
pub fn engines() -> Vec<&'static str> {
    Engine::ALL.iter().map(|e| e.name()).collect()
}
