//! The first step of the compress path: the input, opened and checked before any
//! output exists (so an unreadable input leaves nothing behind), then handed to the
//! chunker as a reader positioned where the job starts.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use gzfleet_worker::objects::{Object, Version, is_object};

use super::objects::{self, ObjectReader};
use crate::error::{Error, Place};

/// The input as the chunker reads it, with its name for read errors.
pub(crate) struct InputReader {
    pub reader: Box<dyn Read + Send>,
    pub place: Place,
}

pub(crate) enum Input {
    Stdin,
    /// An object in a store, as the run found it.
    Object {
        object: Object,
        version: Version,
    },
    File {
        path: PathBuf,
        meta: Box<fs::Metadata>,
        /// Opened at once; taken by [`Input::reader_at`].
        file: Option<File>,
    },
}

impl Input {
    /// Opens `name` ("-" is stdin), refusing what gzip refuses: directories, and
    /// without -f anything but a regular file, or a .gz that would get a second suffix.
    pub fn open(name: &Path, force: bool, writes_beside: bool) -> Result<Input, Error> {
        if name == Path::new("-") {
            return Ok(Input::Stdin);
        }
        if let Some(url) = name.to_str().filter(|n| is_object(n)) {
            let (object, version) = objects::open(url)?;
            return Ok(Input::Object { object, version });
        }
        let open_error = |source| Error::Open {
            path: name.to_path_buf(),
            source,
        };
        let meta = fs::metadata(name).map_err(open_error)?;
        if meta.is_dir() {
            return Err(Error::Refused(format!(
                "{} is a directory -- ignored",
                name.display()
            )));
        }
        if !meta.is_file() && !force {
            return Err(Error::Refused(format!(
                "{} is not a regular file -- ignored (use -f to read it anyway)",
                name.display()
            )));
        }
        if writes_beside && !force && name.extension().is_some_and(|e| e == "gz") {
            return Err(Error::Refused(format!(
                "{} already has .gz suffix -- unchanged (use -f to compress it again)",
                name.display()
            )));
        }
        let file = File::open(name).map_err(open_error)?;
        Ok(Input::File {
            path: name.to_path_buf(),
            meta: Box::new(meta),
            file: Some(file),
        })
    }

    pub fn place(&self) -> Place {
        match self {
            Input::Stdin => Place::Stdin,
            Input::Object { object, .. } => Place::Url(object.url.clone()),
            Input::File { path, .. } => Place::Path(path.clone()),
        }
    }

    pub fn metadata(&self) -> Option<&fs::Metadata> {
        match self {
            Input::File { meta, .. } => Some(meta),
            Input::Stdin | Input::Object { .. } => None,
        }
    }

    /// The input as a reader, positioned at `offset` (non-zero only when resuming a
    /// regular file).
    pub fn reader_at(&mut self, offset: u64) -> Result<InputReader, Error> {
        let place = self.place();
        let reader: Box<dyn Read + Send> = match self {
            Input::Stdin => Box::new(std::io::stdin()),
            Input::Object { object, version } => {
                Box::new(ObjectReader::new(object.clone(), version.clone(), offset))
            }
            Input::File { path, file, .. } => {
                let mut f = file.take().ok_or_else(|| {
                    Error::Fatal(format!("internal error: {} read twice", path.display()))
                })?;
                if offset > 0 {
                    f.seek(SeekFrom::Start(offset))
                        .map_err(|source| Error::Read {
                            input: Place::Path(path.clone()),
                            source,
                        })?;
                }
                Box::new(f)
            }
        };
        Ok(InputReader { reader, place })
    }
}
