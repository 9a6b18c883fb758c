//! [`FileSink`]: the file a `Writer` made by `WriterBuilder::create` writes, under a
//! temporary name until `finish` renames it into place: a writer dropped, a process
//! killed, never leaves a file under the name that looks complete.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::Error;
use crate::index::index_path_for;
use crate::partial::PartialFile;

/// A file being written under its temporary name (`PATH.gzfleet-partial`).
pub struct FileSink {
    /// None once committed or discarded.
    file: Option<PartialFile>,
    /// The index written along, whose name must not keep an old index meanwhile.
    index: Option<PathBuf>,
}

impl FileSink {
    pub(crate) fn create(
        target: &Path,
        overwrite: bool,
        index: Option<PathBuf>,
    ) -> Result<FileSink, Error> {
        if !overwrite && std::fs::symlink_metadata(target).is_ok() {
            return Err(Error::Exists(target.to_path_buf()));
        }
        let file = PartialFile::create(target, overwrite).map_err(Error::internal)?;
        Ok(FileSink {
            file: Some(file),
            index,
        })
    }

    /// Where the file goes once finished.
    pub fn target(&self) -> Option<&Path> {
        self.file.as_ref().map(PartialFile::target)
    }

    /// Where it is being written meanwhile.
    pub fn temporary(&self) -> Option<&Path> {
        self.file.as_ref().map(PartialFile::path)
    }

    /// Synced and renamed into place; an index beside it that described what was
    /// there before is taken away first (the new one follows the file).
    pub(crate) fn commit(&mut self) -> Result<(), Error> {
        let Some(mut file) = self.file.take() else {
            return Ok(());
        };
        let beside = index_path_for(file.target());
        let stale: Vec<PathBuf> = [Some(beside), self.index.clone()]
            .into_iter()
            .flatten()
            .collect();
        let committed = file.commit_replacing(None, None, &stale);
        match committed {
            Ok(_) => Ok(()),
            Err(e) => {
                file.discard();
                Err(Error::internal(e))
            }
        }
    }

    fn open(&mut self) -> io::Result<&mut PartialFile> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("the file was finished already"))
    }
}

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.open()?
            .write_bytes(buf)
            .map(|()| buf.len())
            .map_err(|e| io::Error::from(Error::internal(e)))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for FileSink {
    /// Not finished: the temporary file goes; nothing under the name appears.
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            file.discard();
        }
    }
}
