//! Pull mode: inputs on storage the workers share: files below `--shared-root DIR`, or
//! objects in a store. The coordinator reads nothing: it cuts each input into ranges
//! by its size and sends workers the path below DIR (each worker finds it under its
//! own `--root`) or the object's URL (each worker reads it with its own credentials),
//! and they read the range and the 32 KiB before it. Only compressed bytes cross the
//! network.
//!
//! A worker refuses a file that is not the one the coordinator saw (size, mtime); the
//! coordinator then tries the chunk elsewhere, and if no worker can read it, that input
//! is lost: it fails, named, saying whether it changed here too, no more of it is cut
//! or sent, and the run goes on.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use gzfleet_worker::objects::{Object, Version};
use gzfleet_worker::range::{FileRange, mtime_ns};

use super::chunker::{Chunk, Payload};
use super::objects::block_on;
use super::resume::Start;
use crate::error::Error;

/// `--shared-root`: where inputs must be, as the coordinator sees it.
#[derive(Debug, Clone)]
pub(crate) struct SharedRoot {
    /// Resolved, links and all: an input is below it only if it resolves there too,
    /// so a link leading out is refused here, before any worker is asked.
    dir: PathBuf,
}

/// An input on shared storage: what workers are told, and where this coordinator
/// reads it (for --verify, and to tell a changed input from differing copies).
#[derive(Debug)]
pub(crate) struct SharedFile {
    /// Below the shared root, as workers find it below theirs; or an object's URL.
    pub path: String,
    pub size: u64,
    /// A file's modification time; 0 for an object.
    pub mtime_ns: i64,
    /// An object's ETag; empty for a file.
    pub etag: String,
    pub here: Here,
    /// Why no worker could read it, once one chunk was lost: the input has failed.
    pub lost: OnceLock<String>,
}

/// Where the coordinator itself reaches a shared input.
#[derive(Debug)]
pub(crate) enum Here {
    File(PathBuf),
    Object(Object, Version),
}

impl SharedRoot {
    pub fn new(dir: &Path) -> Result<SharedRoot, Error> {
        let open_error = |source| Error::Open {
            path: dir.to_path_buf(),
            source,
        };
        if !fs::metadata(dir).map_err(open_error)?.is_dir() {
            return Err(Error::Usage(format!(
                "--shared-root {} is not a directory",
                dir.display()
            )));
        }
        Ok(SharedRoot {
            dir: dir.canonicalize().map_err(open_error)?,
        })
    }

    /// `input` as workers will find it; refused if it is not below the root or cannot
    /// be named in a request.
    pub fn file(&self, input: &Path, meta: &fs::Metadata) -> Result<Arc<SharedFile>, Error> {
        let refused = |why: &str| {
            Error::NotShared(format!(
                "{}: {why} -- ignored (pull mode reads inputs below --shared-root {})",
                input.display(),
                self.dir.display()
            ))
        };
        if !meta.is_file() {
            return Err(refused("not a regular file"));
        }
        let local = input.canonicalize().map_err(|source| Error::Open {
            path: input.to_path_buf(),
            source,
        })?;
        let below = local
            .strip_prefix(&self.dir)
            .map_err(|_| refused("not below the shared root"))?;
        let path = below
            .to_str()
            .ok_or_else(|| refused("a name that is not UTF-8 cannot be sent to workers"))?;
        Ok(Arc::new(SharedFile {
            path: path.to_string(),
            size: meta.len(),
            mtime_ns: mtime_ns(meta),
            etag: String::new(),
            here: Here::File(local),
            lost: OnceLock::new(),
        }))
    }
}

impl SharedRoot {
    /// `--direct-output`: the partial file of the output `target` as workers name it
    /// below their `--write-root`; refused if it is not below the shared root.
    pub fn output(&self, target: &Path) -> Result<String, Error> {
        let refused = |why: &str| {
            Error::Usage(format!(
                "{}: {why} (--direct-output writes outputs below --shared-root {}, where workers write them)",
                target.display(),
                self.dir.display()
            ))
        };
        let parent = crate::partial::parent_dir(target);
        let local = parent.canonicalize().map_err(|source| Error::Open {
            path: parent.to_path_buf(),
            source,
        })?;
        let name = crate::partial::partial_path(target);
        let name = name.file_name().ok_or_else(|| refused("not a file name"))?;
        let below = local
            .strip_prefix(&self.dir)
            .map_err(|_| refused("not below the shared root"))?
            .join(name);
        below
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| refused("a name that is not UTF-8 cannot be sent to workers"))
    }
}

impl SharedFile {
    /// The wire's name for `length` bytes at `offset` of this input, as a worker reads
    /// them (push mode's chunk requests and direct output's segments alike).
    pub fn range(&self, offset: u64, length: u64) -> gzfleet_proto::v1::RangeRef {
        gzfleet_proto::v1::RangeRef {
            path: self.path.clone(),
            offset,
            length,
            size: self.size,
            mtime_ns: self.mtime_ns,
            etag: self.etag.clone(),
        }
    }

    /// An object: workers read it with their own credentials.
    pub fn object(object: &Object, version: &Version) -> Arc<SharedFile> {
        Arc::new(SharedFile {
            path: object.url.clone(),
            size: version.size,
            mtime_ns: 0,
            etag: version.etag.clone().unwrap_or_default(),
            here: Here::Object(object.clone(), version.clone()),
            lost: OnceLock::new(),
        })
    }

    /// Whether the input here is no longer the one the run started with.
    pub fn changed_here(&self) -> bool {
        match &self.here {
            Here::File(path) => fs::metadata(path).map_or(true, |m| {
                m.len() != self.size || mtime_ns(&m) != self.mtime_ns
            }),
            Here::Object(object, version) => {
                block_on(object.version()).map_or(true, |now| now != *version)
            }
        }
    }

    /// Reads a chunk and its dictionary here, as a worker would (for --verify).
    pub fn read(&self, chunk: &Chunk, dictionary: bool) -> Result<(Bytes, Bytes), String> {
        match &self.here {
            Here::File(path) => FileRange {
                file: Arc::new(fs::File::open(path).map_err(|e| format!("{}: {e}", self.path))?),
                name: self.path.clone(),
                offset: chunk.offset,
                length: chunk.len,
                dictionary,
                size: self.size,
                mtime_ns: self.mtime_ns,
            }
            .read()
            .map_err(|e| e.to_string()),
            Here::Object(object, version) => {
                block_on(object.read_chunk(chunk.offset, chunk.len, dictionary, version))
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// Cuts a shared file into chunks by arithmetic alone: nothing is read.
pub(crate) struct Ranges {
    file: Arc<SharedFile>,
    block: u64,
    /// Input bytes a range covers: `block`, or a segment's whole blocks (direct output).
    step: u64,
    next_index: u64,
    offset: u64,
}

impl Ranges {
    pub fn new(file: Arc<SharedFile>, block: u64, start: &Start) -> Ranges {
        Ranges {
            file,
            block,
            step: block,
            next_index: start.index,
            offset: start.offset,
        }
    }

    /// Ranges of `segment` bytes (a multiple of the block): direct output's segments,
    /// each a run of chunks whose first is the range's index.
    pub fn segments(mut self, segment: u64) -> Ranges {
        self.step = segment;
        self
    }

    /// The next chunk, which takes place `seq` in the run's stream; None at the end,
    /// or once the input is lost (its output is abandoned: the rest would go nowhere).
    pub fn next_chunk(&mut self, seq: u64) -> Option<Chunk> {
        let len = self.step.min(self.file.size.saturating_sub(self.offset));
        if len == 0 || self.file.lost.get().is_some() {
            return None;
        }
        let chunk = Chunk {
            seq,
            index: self.next_index,
            offset: self.offset,
            len,
            payload: Payload::Shared(Arc::clone(&self.file)),
        };
        self.next_index += len.div_ceil(self.block);
        self.offset += len;
        Some(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_named_below_the_root_and_nothing_else_is() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("shared");
        fs::create_dir_all(root.join("logs")).unwrap();
        fs::write(root.join("logs/a.log"), b"abc").unwrap();
        fs::write(dir.path().join("outside"), b"x").unwrap();
        let shared = SharedRoot::new(&root).unwrap();
        let meta = |p: &Path| fs::metadata(p).unwrap();
        let inside = root.join("logs/../logs/./a.log");
        let f = shared.file(&inside, &meta(&inside)).unwrap();
        assert_eq!((f.path.as_str(), f.size), ("logs/a.log", 3));
        let out = dir.path().join("outside");
        let e = shared.file(&out, &meta(&out)).unwrap_err();
        assert!(e.to_string().contains("not below the shared root"), "{e}");
        let folder = root.join("logs");
        assert!(shared.file(&folder, &meta(&folder)).is_err());
    }

    #[test]
    fn ranges_cover_the_file_in_blocks_from_where_the_run_starts() {
        let file = Arc::new(SharedFile {
            path: "f".into(),
            size: 2500,
            mtime_ns: 0,
            etag: String::new(),
            here: Here::File(PathBuf::new()),
            lost: OnceLock::new(),
        });
        let mut r = Ranges::new(Arc::clone(&file), 1000, &Start::default());
        let cut: Vec<(u64, u64, u64)> = std::iter::from_fn(|| r.next_chunk(0))
            .map(|c| (c.index, c.offset, c.len))
            .collect();
        assert_eq!(cut, [(0, 0, 1000), (1, 1000, 1000), (2, 2000, 500)]);
        let resumed = Start {
            index: 2,
            offset: 2000,
            ..Start::default()
        };
        let mut r = Ranges::new(Arc::clone(&file), 1000, &resumed);
        assert_eq!(
            r.next_chunk(7).map(|c| (c.seq, c.index, c.len)),
            Some((7, 2, 500))
        );
        assert!(r.next_chunk(8).is_none());
        // Lost: nothing more is cut.
        let mut r = Ranges::new(Arc::clone(&file), 1000, &Start::default());
        assert!(r.next_chunk(0).is_some());
        file.lost.set("gone".into()).unwrap();
        assert!(r.next_chunk(1).is_none());
    }

    #[test]
    fn a_link_leading_out_of_the_root_is_refused_here() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("shared");
        fs::create_dir_all(&root).unwrap();
        fs::write(dir.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("link")).unwrap();
        let shared = SharedRoot::new(&root).unwrap();
        let link = root.join("link");
        let e = shared
            .file(&link, &fs::metadata(&link).unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("not below the shared root"), "{e}");
    }
}
