//! The resume journal kept beside a partial output: the job's identity (everything the
//! output bytes depend on) and the last point at which the output was durable, as JSON.
//! It is replaced atomically (write a temporary file, fsync, rename, fsync the folder)
//! only after the output bytes it describes were fsynced, so after a crash it never
//! claims more than the disk holds.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::index_out::IndexMark;
use super::plan::Encoding;
use crate::error::Error;
use crate::partial::parent_dir;

const FORMAT: &str = "gzfleet-journal";
const VERSION: u32 = 3;

/// What must match for a job to be continued: the output bytes depend on all of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobIdentity {
    pub engine: String,
    pub encoding: Encoding,
    /// The encoded gzip header (name, mtime, XFL).
    pub header: Vec<u8>,
    /// Canonical path; kept as bytes, as Unix paths need not be UTF-8.
    #[serde(serialize_with = "path_bytes", deserialize_with = "path_from_bytes")]
    pub input: PathBuf,
    pub input_size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub input_mtime_ns: i64,
    /// `--index`: chunks between index points (absent from journals of runs without).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_step: Option<u64>,
}

/// A durable point: the output holds exactly `output_bytes`, covering the first
/// `chunks` chunks (`input_bytes` of input, whose CRC is `crc`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Durable {
    pub chunks: u64,
    pub input_bytes: u64,
    pub crc: u32,
    pub output_bytes: u64,
    /// CRC and length of the last committed chunk, to check that the input's prefix
    /// is still what was compressed.
    pub last_chunk_crc: u32,
    pub last_chunk_len: u64,
    /// How far the index (`--index`) was durable at the same point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexMark>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Journal {
    pub identity: JobIdentity,
    pub durable: Durable,
}

/// The file: the journal with a format tag, so another file is never mistaken for one.
#[derive(Serialize, Deserialize)]
struct OnDisk {
    format: String,
    version: u32,
    journal: Journal,
}

impl Journal {
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let on_disk = OnDisk {
            format: FORMAT.into(),
            version: VERSION,
            journal: self.clone(),
        };
        let mut text = serde_json::to_vec_pretty(&on_disk).map_err(io::Error::other)?;
        text.push(b'\n');
        // Beside the journal under a name of our own: with_extension would turn
        // "x.gz.gzfleet-journal" into "x.gz.tmp", which may be the user's.
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let replaced = File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(&text)?;
                f.sync_all()
            })
            .and_then(|()| fs::rename(&tmp, path));
        if replaced.is_err() {
            // A full disk, most likely: the old journal stands; leave nothing else.
            let _ = fs::remove_file(&tmp);
        }
        replaced?;
        File::open(parent_dir(path))?.sync_all()
    }

    /// Reads a journal; an unreadable, damaged or foreign file is an error naming it.
    pub fn read(path: &Path) -> Result<Journal, Error> {
        let text = fs::read(path).map_err(|source| Error::ResumeFile {
            path: path.to_path_buf(),
            source,
        })?;
        parse(&text).map_err(|source| Error::Journal {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The first difference that forbids resuming, in words.
    pub fn mismatch(&self, now: &JobIdentity) -> Option<String> {
        let was = &self.identity;
        let (a, b) = (was.encoding, now.encoding);
        if was.engine != now.engine {
            return Some(format!(
                "it was compressed by engine '{}', this gzfleet has '{}'",
                was.engine, now.engine
            ));
        }
        if a.level != b.level {
            return Some(format!(
                "the interrupted run used level {}, this one level {}",
                a.level, b.level
            ));
        }
        if a.block != b.block {
            return Some(format!(
                "the interrupted run used block size {}, this one {}",
                a.block, b.block
            ));
        }
        if a.independent != b.independent {
            return Some("the interrupted run and this one differ in -i/--independent".into());
        }
        if was.input != now.input {
            return Some(format!(
                "the interrupted run read {}, this one {}",
                was.input.display(),
                now.input.display()
            ));
        }
        if was.input_size != now.input_size || was.input_mtime_ns != now.input_mtime_ns {
            return Some(format!(
                "{} changed since the interrupted run (size or modification time)",
                now.input.display()
            ));
        }
        if was.index_step != now.index_step {
            return Some(match (was.index_step, now.index_step) {
                (None, _) => "the interrupted run wrote no index (drop --index)".into(),
                (_, None) => "the interrupted run also wrote an index (add --index)".into(),
                (Some(a), Some(b)) => format!(
                    "the interrupted run put an index point every {a} chunks, this one every {b} (--index-span)"
                ),
            });
        }
        if was.header != now.header {
            return Some("the gzip header differs (-n/--no-name, or the input's name)".into());
        }
        None
    }
}

fn parse(text: &[u8]) -> Result<Journal, serde_json::Error> {
    let on_disk: OnDisk = serde_json::from_slice(text)?;
    if on_disk.format != FORMAT || on_disk.version != VERSION {
        return Err(serde::de::Error::custom(format!(
            "{} version {}, not {FORMAT} version {VERSION}",
            on_disk.format, on_disk.version
        )));
    }
    Ok(on_disk.journal)
}

fn path_bytes<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    path.as_os_str().as_encoded_bytes().serialize(s)
}

fn path_from_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    Vec::<u8>::deserialize(d).map(|b| PathBuf::from(OsString::from_vec(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Journal {
        Journal {
            identity: JobIdentity {
                engine: "e/1".into(),
                encoding: Encoding {
                    engine: gzfleet_worker::engine::Engine::ZlibRs,
                    level: 6,
                    block: 1 << 20,
                    independent: false,
                },
                header: vec![0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3, b'a', 0],
                input: PathBuf::from(OsString::from_vec(b"/data/in put\xff.tar".to_vec())),
                input_size: 5 << 32,
                input_mtime_ns: 1_700_000_000_123_456_789,
                index_step: Some(16),
            },
            durable: Durable {
                chunks: 12,
                input_bytes: 12 << 20,
                crc: 0xdeadbeef,
                output_bytes: 4_000_000,
                last_chunk_crc: 0x01020304,
                last_chunk_len: 1 << 20,
                index: Some(IndexMark {
                    points: 2,
                    bytes: 20_000,
                }),
            },
        }
    }

    #[test]
    fn round_trips_through_a_file_with_a_non_utf8_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.gz.gzfleet-journal");
        sample().write(&path).unwrap();
        assert_eq!(Journal::read(&path).unwrap(), sample());
    }

    #[test]
    fn writing_never_touches_a_users_file_of_a_similar_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x.gz.tmp"), b"precious").unwrap();
        sample()
            .write(&dir.path().join("x.gz.gzfleet-journal"))
            .unwrap();
        assert_eq!(fs::read(dir.path().join("x.gz.tmp")).unwrap(), b"precious");
    }

    #[test]
    fn damaged_or_foreign_journals_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        sample().write(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(parse(text.as_bytes()).is_ok());
        let cut = &text[..text.len() / 2];
        assert!(parse(cut.as_bytes()).is_err(), "a cut journal was accepted");
        let other = text.replace("\"version\": 3", "\"version\": 2");
        assert_ne!(other, text);
        assert!(
            parse(other.as_bytes()).is_err(),
            "another version was accepted"
        );
        let bad = text.replace("\"crc\": 3735928559", "\"crc\": \"zz\"");
        assert_ne!(bad, text);
        assert!(parse(bad.as_bytes()).is_err());
        fs::write(&path, b"{}").unwrap();
        let e = Journal::read(&path).unwrap_err();
        assert!(e.to_string().contains("not a gzfleet journal"), "{e}");
        assert!(matches!(e, Error::Journal { .. }));
    }

    #[test]
    fn mismatches_are_named() {
        let j = sample();
        let mut other = j.identity.clone();
        assert_eq!(j.mismatch(&other), None);
        other.encoding.level = 9;
        assert!(
            j.mismatch(&other)
                .unwrap()
                .contains("level 6, this one level 9")
        );
        let mut changed = j.identity.clone();
        changed.input_mtime_ns += 1;
        assert!(j.mismatch(&changed).unwrap().contains("changed"));
        let mut no_index = j.identity.clone();
        no_index.index_step = None;
        assert!(j.mismatch(&no_index).unwrap().contains("add --index"));
    }
}
