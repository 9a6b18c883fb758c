//! What a worker reads for pull requests: files strictly inside its `--root` (opened
//! here, read later by the pool slot that compresses them), and with `--read-objects`,
//! objects below the URL prefixes it names (read here, before the pool, at most as
//! many at once as the pool holds, so memory stays bounded whatever coordinators
//! send). A failure that is about the input rather than the worker is marked so
//! ([`INPUT_ERROR`]); one about this worker (out of file descriptors, an I/O error on
//! its mount) is UNAVAILABLE, so the coordinator tries the chunk elsewhere. And the
//! window an index point needs (`return_window`), which only the reader of the input
//! has in pull mode ([`WindowFrom`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use gzfleet_proto::v1::RangeRef;
use tokio::sync::{Semaphore, SemaphorePermit};
use tonic::Status;
use url::Url;

use crate::INPUT_ERROR;
use crate::engine::MAX_DICTIONARY;
use crate::objects::{Object, Version, is_object};
use crate::pool::Input;
use crate::range::{FileRange, RangeError};
use crate::root::{Root, RootError};

/// Marks a status as being about the input (see [`INPUT_ERROR`]).
pub(crate) fn input_error(mut status: Status) -> Status {
    status.metadata_mut().insert(
        INPUT_ERROR,
        tonic::metadata::MetadataValue::from_static("1"),
    );
    status
}

/// Objects opened, kept so the chunks of one object share its store's connections.
const OBJECTS_KEPT: usize = 256;

pub(crate) struct Pulls {
    root: Option<Root>,
    /// None without --read-objects.
    objects: Option<Objects>,
}

struct Objects {
    /// URL prefixes this worker reads below (`--read-objects`).
    allowed: Vec<String>,
    opened: Mutex<HashMap<String, Object>>,
    reads: Semaphore,
}

/// Checks a `--read-objects` prefix: an object URL whose scheme this worker reads,
/// ending in `/` so that `s3://logs/` cannot be read as allowing `s3://logs-private`.
pub fn parse_object_prefix(prefix: &str) -> Result<String, String> {
    if !is_object(prefix) {
        return Err(format!(
            "{prefix}: not an object URL prefix (s3://bucket/, https://host/path/, or s3:// for all of S3)"
        ));
    }
    if !prefix.ends_with('/') {
        return Err(format!(
            "{prefix}: a prefix must end with \"/\" (as {prefix}/), so it cannot match a longer name"
        ));
    }
    Ok(prefix.to_string())
}

/// Whether `url`, once its `.` and `..` segments are resolved (as the store will),
/// lies below one of `allowed`.
fn permitted(allowed: &[String], url: &str) -> bool {
    let Ok(parsed) = Url::parse(url) else {
        return false;
    };
    let normal = parsed.as_str();
    allowed
        .iter()
        .any(|prefix| normal.starts_with(prefix.as_str()))
}

/// A pull request, checked: ready for the pool, or an object to read first.
pub(crate) enum Planned {
    Ready(Input),
    Object(ObjectRead),
}

pub(crate) struct ObjectRead {
    object: Object,
    version: Version,
    offset: u64,
    length: u64,
    dictionary: bool,
}

impl Pulls {
    /// `read_objects`: the URL prefixes objects are read below (none: no objects);
    /// `reads`: objects read at once (the pool's slots and queue).
    pub fn new(
        root: Option<&std::path::Path>,
        read_objects: &[String],
        reads: usize,
    ) -> std::io::Result<Pulls> {
        Ok(Pulls {
            root: root.map(Root::new).transpose()?,
            objects: (!read_objects.is_empty()).then(|| Objects {
                allowed: read_objects.to_vec(),
                opened: Mutex::new(HashMap::new()),
                reads: Semaphore::new(reads.max(1)),
            }),
        })
    }

    pub fn plan(&self, range: &RangeRef, independent: bool) -> Result<Planned, Status> {
        if is_object(&range.path) {
            return self.object(range, independent).map(Planned::Object);
        }
        let Some(root) = &self.root else {
            return Err(Status::unimplemented(
                "this worker reads no files (pull mode): start it with --root DIR",
            ));
        };
        let file = root.open(&range.path).map_err(|e| {
            if !e.about_input() {
                return Status::unavailable(e.to_string());
            }
            input_error(match e {
                RootError::Absolute(_) | RootError::Climbs(_) => {
                    Status::invalid_argument(e.to_string())
                }
                RootError::Escapes(_) => Status::permission_denied(e.to_string()),
                RootError::NotAFile(_) | RootError::Moved(_) | RootError::Unreadable { .. } => {
                    Status::failed_precondition(e.to_string())
                }
            })
        })?;
        Ok(Planned::Ready(Input::File(FileRange {
            file: Arc::new(file),
            name: range.path.clone(),
            offset: range.offset,
            length: range.length,
            dictionary: !independent,
            size: range.size,
            mtime_ns: range.mtime_ns,
        })))
    }

    fn object(&self, range: &RangeRef, independent: bool) -> Result<ObjectRead, Status> {
        let Some(objects) = &self.objects else {
            return Err(Status::unimplemented(
                "this worker reads no objects (pull mode): start it with --read-objects PREFIX, and credentials in its environment",
            ));
        };
        if !permitted(&objects.allowed, &range.path) {
            return Err(input_error(Status::permission_denied(format!(
                "{}: not below this worker's --read-objects {}",
                range.path,
                objects.allowed.join(",")
            ))));
        }
        let mut opened = objects.opened.lock().unwrap_or_else(|e| e.into_inner());
        let object = match opened.get(&range.path) {
            Some(object) => object.clone(),
            None => {
                let object = Object::open(&range.path)
                    .map_err(|e| input_error(Status::invalid_argument(e.to_string())))?;
                if opened.len() >= OBJECTS_KEPT {
                    opened.clear();
                }
                opened.insert(range.path.clone(), object.clone());
                object
            }
        };
        Ok(ObjectRead {
            object,
            version: Version {
                size: range.size,
                etag: (!range.etag.is_empty()).then(|| range.etag.clone()),
                modified: 0,
            },
            offset: range.offset,
            length: range.length,
            dictionary: !independent,
        })
    }

    /// Reads an object's chunk (and dictionary), at most so many at once: the permit
    /// returned is to be held until the chunk is compressed, as its bytes are held.
    pub async fn read(&self, r: ObjectRead) -> Result<(Input, SemaphorePermit<'_>), Status> {
        let objects = self
            .objects
            .as_ref()
            .expect("planned only with --read-objects");
        let permit = objects
            .reads
            .acquire()
            .await
            .map_err(|_| Status::unavailable("worker is shutting down"))?;
        let (dictionary, data) = r
            .object
            .read_chunk(r.offset, r.length, r.dictionary, &r.version)
            .await
            .map_err(|e| input_error(Status::failed_precondition(e.to_string())))?;
        Ok((Input::Bytes { data, dictionary }, permit))
    }
}

/// Where the window a request asked for (`return_window`: the 32 KiB before the chunk,
/// for the coordinator's index) comes from: the dictionary in hand (pushed, or an
/// object read before the pool), or the file, read again after the chunk. A second
/// read of 32 KiB for one chunk in many keeps the pool's job as it is; it checks the
/// file's version as the chunk's read did, so both come from the same version.
pub(crate) enum WindowFrom {
    InHand(Bytes),
    File(FileRange),
}

impl WindowFrom {
    pub fn of(input: &Input) -> WindowFrom {
        match input {
            Input::Bytes { dictionary, .. } => WindowFrom::InHand(dictionary.clone()),
            Input::File(range) => {
                // Before the range actually read, whatever else the request says.
                let offset = range.offset;
                let before = offset.min(MAX_DICTIONARY as u64);
                WindowFrom::File(FileRange {
                    offset: offset - before,
                    length: before,
                    dictionary: false,
                    ..range.clone()
                })
            }
        }
    }

    pub async fn read(self) -> Result<Bytes, RangeError> {
        match self {
            WindowFrom::InHand(bytes) => Ok(bytes),
            WindowFrom::File(range) => tokio::task::spawn_blocking(move || range.read())
                .await
                .map_err(|e| RangeError::Io {
                    name: "window".into(),
                    source: std::io::Error::other(e),
                })?
                .map(|(_, window)| window),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_window_is_the_input_before_the_chunk_read_again_or_in_hand() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let range = |offset: u64| FileRange {
            file: Arc::new(std::fs::File::open(&path).unwrap()),
            name: "data".into(),
            offset,
            length: 1000,
            // Independent or not, the window is read for itself.
            dictionary: false,
            size: meta.len(),
            mtime_ns: crate::range::mtime_ns(&meta),
        };
        for (offset, from) in [(40_000, 40_000 - MAX_DICTIONARY), (100, 0), (0, 0)] {
            let window = WindowFrom::of(&Input::File(range(offset)))
                .read()
                .await
                .unwrap();
            assert_eq!(&window[..], &data[from..offset as usize], "at {offset}");
        }
        let in_hand = Input::Bytes {
            data: Bytes::from_static(b"chunk"),
            dictionary: Bytes::from_static(b"before"),
        };
        let window = WindowFrom::of(&in_hand).read().await.unwrap();
        assert_eq!(&window[..], b"before");
        // Changed since the coordinator saw it: refused as the chunk's read would be.
        std::fs::write(&path, b"short").unwrap();
        let e = WindowFrom::of(&Input::File(range(40_000)))
            .read()
            .await
            .unwrap_err();
        assert!(e.about_input(), "{e}");
    }

    #[test]
    fn prefixes_must_be_object_urls_ending_in_a_slash() {
        assert_eq!(parse_object_prefix("s3://logs/").unwrap(), "s3://logs/");
        assert!(parse_object_prefix("s3://").is_ok());
        let e = parse_object_prefix("s3://logs").unwrap_err();
        assert!(e.contains("must end with \"/\""), "{e}");
        assert!(parse_object_prefix("/data/").is_err());
    }

    #[test]
    fn only_objects_below_a_prefix_are_permitted() {
        let allowed = vec!["s3://logs/2026/".to_string(), "https://h/pub/".to_string()];
        assert!(permitted(&allowed, "s3://logs/2026/a.tar"));
        assert!(permitted(&allowed, "https://h/pub/x"));
        assert!(!permitted(&allowed, "s3://logs/2025/a.tar"));
        assert!(!permitted(&allowed, "s3://logs-private/2026/a"));
        // Dot segments are resolved before the check, as the store resolves them.
        assert!(!permitted(&allowed, "https://h/pub/../secret"));
        assert!(!permitted(&allowed, "https://h/pub/%2e%2e/secret"));
        assert!(!permitted(&allowed, "s3://logs/2026/../2025/a"));
        assert!(!permitted(&allowed, "not a url"));
    }
}
