//! The index written beside an output with `--index`: gztool's `.gzi` format (see
//! `crate::index`), one access point at the start of every `step`-th chunk. Chunk
//! boundaries are byte-aligned (each chunk ends with a sync flush), so a point is its
//! chunk's first byte in the output (header included), its first input byte, and the
//! 32 KiB of input before it; with `-i` no window (nothing before a chunk is referred
//! to, and gztool and rapidgzip both take an empty one).
//!
//! Like the output, the index is written under a temporary name (`.gzfleet-partial`
//! beside its target), points streamed to it as their chunks are written, and it is
//! renamed into place just after the output: finished and fsynced before the output
//! is committed, so an output in place never waits for an index that could still fail
//! to be written, and an index in place always describes a finished output. The old
//! index at its target goes before then (see [`IndexOut::remove_old`]). Dropped
//! before it is in place (sealed or not), it removes itself, unless kept beside a
//! partial output for `--resume`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Place};
use crate::index::{IndexWriter, Point};
use crate::partial::{parent_dir, partial_path, remove_stale};

/// `--index-span` when points carry windows: a point every 16 MiB of input. Each costs
/// its window, 32 KiB deflated (about 11 KiB on text, 32 KiB on noise): 0.2% of the .gz
/// even for incompressible data, and 64 points a GiB, plenty for parallel inflation.
pub(crate) const DEFAULT_SPAN: u64 = 16 << 20;
/// `--index-span` when chunks are independent (libdeflate's, `-i`): a point needs no
/// window then and costs 24 bytes, so points can be closer, and spans inflated whole
/// that stay in the CPU's cache are faster: `decompress -p 2` of the 1 GiB corpus took
/// 0.716 s with 16 MiB spans, 0.690 s with 4 MiB, 0.686 s with 2 MiB (best of six).
pub(crate) const DEFAULT_SPAN_INDEPENDENT: u64 = 4 << 20;

/// `--index-span` when not given, for chunks that are `independent` or not.
pub(crate) fn default_span(independent: bool) -> u64 {
    match independent {
        true => DEFAULT_SPAN_INDEPENDENT,
        false => DEFAULT_SPAN,
    }
}

/// How far an index was written: with the output's durable point in the journal, so
/// `--resume` continues both from the same place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IndexMark {
    pub points: u64,
    pub bytes: u64,
}

/// The index gztool uses for `gz` (`data.gz` gets `data.gzi`, `x.tgz` gets
/// `x.tgz.gzi`): the readers' own function, so that what is written, and what is
/// removed as stale, is exactly what `decompress` will look for.
pub(crate) use crate::index::index_path_for as index_path;

/// Chunks between index points: the span rounded to whole chunks, at least one.
pub(crate) fn step(span: u64, block: u64) -> u64 {
    ((span + block / 2) / block.max(1)).max(1)
}

/// An index being written under its temporary name.
pub(crate) struct IndexOut {
    target: PathBuf,
    partial: PathBuf,
    /// None once finished, kept or discarded.
    writer: Option<IndexWriter<File>>,
}

impl IndexOut {
    /// Starts an index for `target`; an index already there, or another run's partial
    /// one, needs `force`.
    pub fn create(target: &Path, force: bool) -> Result<IndexOut, Error> {
        if !force && fs::symlink_metadata(target).is_ok() {
            return Err(Error::Exists(target.to_path_buf()));
        }
        let partial = partial_path(target);
        if force {
            let _ = fs::remove_file(&partial);
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&partial)
            .map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists => Error::PartialExists(partial.clone()),
                _ => write_error(&partial, source),
            })?;
        let writer = IndexWriter::new(file);
        let writer = writer.map_err(|e| {
            let _ = fs::remove_file(&partial);
            write_error(&partial, e)
        })?;
        Ok(IndexOut {
            target: target.to_path_buf(),
            partial,
            writer: Some(writer),
        })
    }

    /// An interrupted run's partial index, cut back to where the journal says it was
    /// durable.
    pub fn resume(target: &Path, mark: IndexMark) -> Result<IndexOut, Error> {
        let partial = partial_path(target);
        let resume_error = |source| Error::ResumeFile {
            path: partial.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&partial)
            .map_err(resume_error)?;
        let len = file.metadata().map_err(resume_error)?.len();
        if len < mark.bytes {
            return Err(Error::Resume(format!(
                "{} holds {len} bytes but the journal says {} were made durable; to start over, run without --resume and with -f",
                partial.display(),
                mark.bytes
            )));
        }
        file.set_len(mark.bytes).map_err(resume_error)?;
        let writer = IndexWriter::reopen(file, mark.points, mark.bytes).map_err(resume_error)?;
        Ok(IndexOut {
            target: target.to_path_buf(),
            partial,
            writer: Some(writer),
        })
    }

    fn writer(&mut self) -> &mut IndexWriter<File> {
        self.writer
            .as_mut()
            .expect("an index is written only until it is finished or dropped")
    }

    /// Adds the point where a chunk starts: `compressed` bytes into the output,
    /// `uncompressed` into the input, `window` the input before it.
    pub fn push(&mut self, compressed: u64, uncompressed: u64, window: &[u8]) -> Result<(), Error> {
        self.push_at(compressed, 0, uncompressed, window)
    }

    /// Adds a point that starts `bits` bits before byte `compressed` (see [`Point`]).
    pub fn push_at(
        &mut self,
        compressed: u64,
        bits: u8,
        uncompressed: u64,
        window: &[u8],
    ) -> Result<(), Error> {
        let point = Point {
            compressed,
            bits,
            uncompressed,
            window: window.to_vec(),
        };
        let pushed = self.writer().push(&point);
        pushed.map_err(|e| write_error(&self.target, e))
    }

    pub fn points(&self) -> u64 {
        self.writer.as_ref().map_or(0, IndexWriter::points)
    }

    /// How far it is written; durable once [`IndexOut::sync`] returned.
    pub fn mark(&self) -> IndexMark {
        self.writer
            .as_ref()
            .map_or_else(IndexMark::default, |w| IndexMark {
                points: w.points(),
                bytes: w.byte_len(),
            })
    }

    pub fn sync(&mut self) -> Result<(), Error> {
        let synced = self.writer().get_mut().sync_data();
        synced.map_err(|e| write_error(&self.target, e))
    }

    /// Completes the index (the input's size, the final counts) and makes it durable,
    /// still under its temporary name. An output with no chunk (empty input) still gets
    /// its one point, at its first deflate byte, as gztool gives one. Failed or not,
    /// the index stays this one's to commit, keep or drop: a failure here is the
    /// output's too, and the partial output kept for `--resume` needs its index beside
    /// it (resuming cuts the index back to the journal's mark and undoes the counts).
    pub fn seal(&mut self, output_at: u64, input_size: u64) -> Result<(), Error> {
        if self.points() == 0 {
            self.push(output_at, 0, &[])?;
        }
        let writer = self.writer();
        let sealed = writer
            .finish(input_size)
            .and_then(|()| writer.get_mut().sync_all());
        sealed.map_err(|e| write_error(&self.target, e))
    }

    /// Where it goes once sealed and its output is in place.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Takes away the index already at this one's target, if any, before an output
    /// that is no file finishes (a file's own commit does it, see
    /// [`crate::partial::PartialFile::commit_replacing`]); this index goes there only
    /// once its output is complete. In between, a crash or a failure leaves no index
    /// at all: slower to read, still right, where the old one beside the new output
    /// would be taken for its index and could give wrong bytes. When:
    ///
    /// - An object: just before its multipart upload completes. Not earlier, as the
    ///   old object is there, whole, until then, and a run failing before that must
    ///   leave it with the index that agrees with it.
    /// - Stdout: before its first byte. Stdout cannot be kept as it was: whatever it
    ///   is (a file the shell truncated for `>`, a pipe into one), the bytes the old
    ///   index describes are gone or being overwritten from then on, and a run that
    ///   dies half-way (the long part of a run) must not leave the new bytes beside
    ///   it.
    pub fn remove_old(&self) -> Result<(), Error> {
        remove_stale(&self.target)
    }

    /// Renames the sealed index into place (after its output was). Failing, it is
    /// removed: its output is in place and finished, and a temporary index beside it
    /// would only be litter.
    pub fn commit(mut self) -> Result<(), Error> {
        self.writer = None;
        if let Err(e) = fs::rename(&self.partial, &self.target) {
            let _ = fs::remove_file(&self.partial);
            return Err(write_error(&self.target, e));
        }
        if let Ok(d) = File::open(parent_dir(&self.target)) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Leaves the partial index beside the partial output it belongs to, for
    /// `--resume`.
    pub fn keep(mut self) {
        self.writer = None;
    }
}

impl Drop for IndexOut {
    /// Neither committed nor kept: it describes nothing that will be finished.
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.partial);
        }
    }
}

fn write_error(path: &Path, source: io::Error) -> Error {
    Error::Write {
        output: Place::Path(path.to_path_buf()),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_gztool_does() {
        assert_eq!(index_path(Path::new("d/data.gz")), Path::new("d/data.gzi"));
        assert_eq!(index_path(Path::new("x.tgz")), Path::new("x.tgz.gzi"));
        assert_eq!(index_path(Path::new("x.gzip")), Path::new("x.gzip.gzi"));
    }

    #[test]
    fn steps_round_the_span_to_whole_chunks() {
        assert_eq!(step(16 << 20, 1 << 20), 16);
        assert_eq!(step(1 << 20, 4 << 20), 1);
        assert_eq!(step(10 << 20, 4 << 20), 3);
        assert_eq!(step(0, 1 << 20), 1);
    }

    #[test]
    fn appears_only_when_committed_and_is_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.gzi");
        let mut index = IndexOut::create(&target, false).unwrap();
        index.push(10, 0, &[]).unwrap();
        index.seal(10, 5).unwrap();
        assert!(!target.exists());
        index.commit().unwrap();
        assert!(target.exists() && !partial_path(&target).exists());
        assert!(matches!(
            IndexOut::create(&target, false),
            Err(Error::Exists(_))
        ));
        let dropped = IndexOut::create(&target, true).unwrap();
        assert!(partial_path(&target).exists());
        drop(dropped);
        assert!(!partial_path(&target).exists());
        let kept = IndexOut::create(&target, true).unwrap();
        kept.keep();
        assert!(partial_path(&target).exists());
    }
}
