//! The first step of the compress path: the input, opened and checked before any
//! output exists (so an unreadable input leaves nothing behind), then handed to the
//! chunker as a reader positioned where the job starts.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use gzfleet_worker::objects::{Object, Version, is_object};

use super::objects::{self, ObjectReader};
use crate::admit;
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
    /// Opens `name` ("-" is stdin), refusing what gzip refuses (see `admit`) and, when
    /// the output is made from its name, a name that already ends in a compressed
    /// suffix (gzip says so and counts it as no failure).
    pub fn open(
        name: &Path,
        force: bool,
        writes_beside: bool,
        suffix: &str,
    ) -> Result<Input, Error> {
        if name == Path::new("-") {
            return Ok(Input::Stdin);
        }
        if let Some(url) = name.to_str().filter(|n| is_object(n)) {
            let (object, version) = objects::open(url)?;
            return Ok(Input::Object { object, version });
        }
        let (file, meta) = admit::open(name, force, writes_beside)?;
        if writes_beside
            && !force
            && let Some(known) = compressed_suffix(name, suffix)
        {
            return Err(Error::Unchanged(format!(
                "{} already has {known} suffix -- unchanged (use -f to compress it again)",
                name.display()
            )));
        }
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

/// The compressed suffix `name` ends in, if any: -S's and those gzip knows.
fn compressed_suffix<'a>(name: &Path, suffix: &'a str) -> Option<&'a str> {
    let name = name.file_name()?.as_encoded_bytes();
    [suffix, ".gz", ".tgz", ".taz", ".z", "-gz", "-z", "_z"]
        .into_iter()
        .find(|s| name.len() > s.len() && name.ends_with(s.as_bytes()))
}
