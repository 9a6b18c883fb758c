//! Nothing half-written looks finished (docs/DESIGN.md, contract 6): every file
//! gzfleet writes, compressed or decompressed, is written under a temporary name beside
//! its target and renamed into place only after everything is written and fsynced.

use std::fs::{self, File, FileTimes, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, fchown};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, Place};

/// Suffix of the temporary output beside its target.
pub(crate) const PARTIAL_SUFFIX: &str = ".gzfleet-partial";

pub(crate) fn partial_path(target: &Path) -> PathBuf {
    with_suffix(target, PARTIAL_SUFFIX)
}

pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The folder holding `path`, for fsyncing a rename in it.
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// A file being written under its temporary name.
pub(crate) struct PartialFile {
    target: PathBuf,
    partial: PathBuf,
    file: File,
    written: u64,
}

impl PartialFile {
    /// Creates the temporary file; refuses if one exists (another run, or an
    /// interrupted one that --resume could continue) unless `force`.
    pub fn create(target: &Path, force: bool) -> Result<Self, Error> {
        let partial = partial_path(target);
        if force {
            let _ = fs::remove_file(&partial);
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists => Error::PartialExists(partial.clone()),
                _ => Error::Write {
                    output: Place::Path(partial.clone()),
                    source,
                },
            })?;
        Ok(PartialFile {
            target: target.to_path_buf(),
            partial,
            file,
            written: 0,
        })
    }

    /// Reopens an interrupted run's temporary file, cut back to its last durable byte.
    pub fn reopen(target: &Path, durable_len: u64) -> Result<Self, Error> {
        let partial = partial_path(target);
        let resume_error = |source| Error::ResumeFile {
            path: partial.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .open(&partial)
            .map_err(resume_error)?;
        let len = file.metadata().map_err(resume_error)?.len();
        if len < durable_len {
            return Err(Error::Resume(format!(
                "{} holds {len} bytes but its journal says {durable_len} were made durable",
                partial.display()
            )));
        }
        file.set_len(durable_len)
            .and_then(|_| file.seek(SeekFrom::Start(durable_len)))
            .map_err(resume_error)?;
        Ok(PartialFile {
            target: target.to_path_buf(),
            partial,
            file,
            written: durable_len,
        })
    }

    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// Where it goes once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Where failures are reported: the output the user asked for.
    pub fn place(&self) -> Place {
        Place::Path(self.target.clone())
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    fn failed(&self, source: io::Error) -> Error {
        Error::Write {
            output: self.place(),
            source,
        }
    }

    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.write_all(bytes).map_err(|e| self.failed(e))
    }

    /// Writes `bytes` at `at`, before the end (direct output: a segment's fragments,
    /// around what its worker wrote).
    pub fn write_at(&mut self, bytes: &[u8], at: u64) -> Result<(), Error> {
        use std::os::unix::fs::FileExt;
        self.file
            .write_all_at(bytes, at)
            .map_err(|e| self.failed(e))
    }

    /// Moves the end to `end`: the bytes before it were written elsewhere (a worker's
    /// segment, and its fragments with [`PartialFile::write_at`]).
    pub fn advance_to(&mut self, end: u64) -> Result<(), Error> {
        self.file
            .seek(SeekFrom::Start(end))
            .map_err(|e| self.failed(e))?;
        self.written = end;
        Ok(())
    }

    pub fn sync(&mut self) -> Result<(), Error> {
        self.file.sync_data().map_err(|e| self.failed(e))
    }

    /// Makes the file durable, gives it the input's owner, permissions and times (with
    /// `mtime` instead of the input's: gunzip -N), and renames it into place, removing
    /// `stale` files (indexes describing what the target held) on the way. Returns
    /// the bytes written. Failing, the file is still there under its
    /// temporary name, for the caller to keep or discard; done, it is to be dropped.
    ///
    /// They go after the data is durable and just before the rename. Not earlier: a
    /// run that fails before this point must leave the old file and its index as they
    /// were, a pair that agrees. Not after the rename: a crash between the two would
    /// leave the new file beside the old index, which readers take for the new one's
    /// (`--offset` trusts a point's window), and a stale index can give wrong bytes
    /// where a missing one only costs speed. So if the rename itself fails, the old
    /// file is left without its index: slower to read, still right. The folder is
    /// synced between, so that the removal cannot reach the disk after the rename.
    pub fn commit_replacing(
        &mut self,
        like: Option<&fs::Metadata>,
        mtime: Option<SystemTime>,
        stale: &[PathBuf],
    ) -> Result<u64, Error> {
        // Nothing past the end: a segment written late by a worker of an earlier run
        // (direct output) could have left bytes there.
        self.file
            .set_len(self.written)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| self.failed(e))?;
        if let Some(meta) = like {
            copy_stat(&self.file, meta, mtime);
        }
        for path in stale {
            remove_stale(path)?;
        }
        fs::rename(&self.partial, &self.target).map_err(|e| self.failed(e))?;
        if let Ok(d) = File::open(parent_dir(&self.target)) {
            let _ = d.sync_all();
        }
        Ok(self.written)
    }

    /// Removes the temporary file.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.partial);
    }
}

/// Removes `path`, an index that no longer describes what is being put in place, if
/// it is there, and syncs its folder so that the removal reaches the disk before
/// whatever the caller does next (the new output going in).
pub(crate) fn remove_stale(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => {
            if let Ok(d) = File::open(parent_dir(path)) {
                let _ = d.sync_all();
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::StaleIndex {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// What gzip's copy_stat gives an output, best effort as in gzip (a filesystem or a
/// user that may not do one of these still gets the data): the input's access and
/// modification times; its group (allowed to root, and to a member of the group), its
/// permission bits without setuid, setgid and sticky (the output is another file: what
/// made the input special does not carry over, and a root-run gunzip must never plant
/// a setuid file), then its owner (root only).
fn copy_stat(file: &File, meta: &fs::Metadata, mtime: Option<SystemTime>) {
    let mut times = FileTimes::new();
    if let Ok(atime) = meta.accessed() {
        times = times.set_accessed(atime);
    }
    if let Some(mtime) = mtime.or_else(|| meta.modified().ok()) {
        times = times.set_modified(mtime);
    }
    let _ = file.set_times(times);
    let _ = fchown(file, None, Some(meta.gid()));
    let _ = file.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o777));
    let _ = fchown(file, Some(meta.uid()), None);
}

/// The decoder writes decompressed bytes straight into the partial file.
impl Write for PartialFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appears_under_its_name_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let mut p = PartialFile::create(&target, false).unwrap();
        p.write_bytes(b"hello").unwrap();
        assert!(!target.exists());
        assert!(matches!(
            PartialFile::create(&target, false),
            Err(Error::PartialExists(_))
        ));
        assert_eq!(p.commit_replacing(None, None, &[]).unwrap(), 5);
        assert_eq!(fs::read(&target).unwrap(), b"hello");
        assert!(!partial_path(&target).exists());
    }

    #[test]
    fn reopening_cuts_back_to_the_durable_length() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let mut p = PartialFile::create(&target, false).unwrap();
        p.write_bytes(b"durable+torn").unwrap();
        drop(p);
        let mut again = PartialFile::reopen(&target, 7).unwrap();
        again.write_bytes(b"!").unwrap();
        again.commit_replacing(None, None, &[]).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"durable!");
        let missing = PartialFile::reopen(&dir.path().join("none"), 1);
        assert!(
            matches!(&missing, Err(Error::ResumeFile { source, .. }) if source.kind() == io::ErrorKind::NotFound),
            "{:?}",
            missing.err()
        );
    }
}
