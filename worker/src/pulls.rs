//! What a worker reads for pull requests: files strictly inside its `--root` (read
//! later by the pool slot that compresses them), and with `--read-objects`, objects in
//! stores (read here, before the pool, at most as many at once as the pool holds, so
//! memory stays bounded whatever coordinators send). A failure that is about the input
//! rather than the worker is marked so ([`INPUT_ERROR`]).

use std::collections::HashMap;
use std::sync::Mutex;

use gzfleet_proto::v1::RangeRef;
use tokio::sync::Semaphore;
use tonic::Status;

use crate::INPUT_ERROR;
use crate::objects::{Object, Version, is_object};
use crate::pool::Input;
use crate::range::FileRange;
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
    opened: Mutex<HashMap<String, Object>>,
    reads: Semaphore,
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
    /// `reads`: objects read at once (the pool's slots and queue).
    pub fn new(
        root: Option<&std::path::Path>,
        read_objects: bool,
        reads: usize,
    ) -> std::io::Result<Pulls> {
        Ok(Pulls {
            root: root.map(Root::new).transpose()?,
            objects: read_objects.then(|| Objects {
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
        let path = root.resolve(&range.path).map_err(|e| {
            input_error(match e {
                RootError::Absolute(_) | RootError::Climbs(_) => {
                    Status::invalid_argument(e.to_string())
                }
                RootError::Escapes(_) => Status::permission_denied(e.to_string()),
                RootError::Unreadable { .. } => Status::failed_precondition(e.to_string()),
            })
        })?;
        Ok(Planned::Ready(Input::File(FileRange {
            path,
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
                "this worker reads no objects (pull mode): start it with --read-objects, and credentials in its environment",
            ));
        };
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

    /// Reads an object's chunk (and dictionary), at most so many at once.
    pub async fn read(&self, r: ObjectRead) -> Result<Input, Status> {
        let objects = self
            .objects
            .as_ref()
            .expect("planned only with --read-objects");
        let _permit = objects
            .reads
            .acquire()
            .await
            .map_err(|_| Status::unavailable("worker is shutting down"))?;
        let (dictionary, data) = r
            .object
            .read_chunk(r.offset, r.length, r.dictionary, &r.version)
            .await
            .map_err(|e| input_error(Status::failed_precondition(e.to_string())))?;
        Ok(Input::Bytes { data, dictionary })
    }
}
