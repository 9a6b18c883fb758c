//! The resume journal kept beside a partial output: the job's parameters and the last
//! point at which the output was durable. It is replaced atomically (write a temporary
//! file, fsync, rename, fsync the folder) only after the output bytes it describes were
//! fsynced, so after a crash it never claims more than the disk holds.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const MAGIC: &str = "gzfleet-journal v1";

/// What must match for a job to be continued: the output bytes depend on all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobIdentity {
    pub engine: String,
    pub level: u32,
    pub block: u64,
    pub independent: bool,
    /// The encoded gzip header (name, mtime, XFL).
    pub header: Vec<u8>,
    pub input: PathBuf,
    pub input_size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub input_mtime_ns: i128,
}

/// A durable point: the output holds exactly `output_bytes`, covering the first
/// `chunks` chunks (`input_bytes` of input, whose CRC is `crc`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Durable {
    pub chunks: u64,
    pub input_bytes: u64,
    pub crc: u32,
    pub output_bytes: u64,
    /// CRC and length of the last committed chunk, to check that the input's prefix
    /// is still what was compressed.
    pub last_chunk_crc: u32,
    pub last_chunk_len: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    pub identity: JobIdentity,
    pub durable: Durable,
}

impl Journal {
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let id = &self.identity;
        let d = &self.durable;
        let text = format!(
            "{MAGIC}\nengine {}\nlevel {}\nblock {}\nindependent {}\nheader {}\ninput {}\n\
             input-size {}\ninput-mtime-ns {}\nchunks {}\ninput-bytes {}\ncrc {:08x}\n\
             output-bytes {}\nlast-chunk-crc {:08x}\nlast-chunk-len {}\nend\n",
            id.engine,
            id.level,
            id.block,
            id.independent as u8,
            hex(&id.header),
            hex(id.input.as_os_str().as_encoded_bytes()),
            id.input_size,
            id.input_mtime_ns,
            d.chunks,
            d.input_bytes,
            d.crc,
            d.output_bytes,
            d.last_chunk_crc,
            d.last_chunk_len,
        );
        // Beside the journal under a name of our own: with_extension would turn
        // "x.gz.gzfleet-journal" into "x.gz.tmp", which may be the user's.
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    pub fn read(path: &Path) -> Result<Journal, String> {
        let text = fs::read_to_string(path).map_err(|e| crate::error::at(path, &e))?;
        parse(&text).ok_or_else(|| format!("{}: not a gzfleet journal, or damaged", path.display()))
    }

    /// The first difference that forbids resuming, in words.
    pub fn mismatch(&self, now: &JobIdentity) -> Option<String> {
        let was = &self.identity;
        if was.engine != now.engine {
            return Some(format!(
                "it was compressed by engine '{}', this gzfleet has '{}'",
                was.engine, now.engine
            ));
        }
        if was.level != now.level {
            return Some(format!(
                "the interrupted run used level {}, this one level {}",
                was.level, now.level
            ));
        }
        if was.block != now.block {
            return Some(format!(
                "the interrupted run used block size {}, this one {}",
                was.block, now.block
            ));
        }
        if was.independent != now.independent {
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
        if was.header != now.header {
            return Some("the gzip header differs (-n/--no-name, or the input's name)".into());
        }
        None
    }
}

fn parse(text: &str) -> Option<Journal> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let mut field = |name: &str| -> Option<String> {
        let line = lines.next()?;
        line.strip_prefix(name)?
            .strip_prefix(' ')
            .map(str::to_string)
    };
    let identity = JobIdentity {
        engine: field("engine")?,
        level: field("level")?.parse().ok()?,
        block: field("block")?.parse().ok()?,
        independent: field("independent")? == "1",
        header: unhex(&field("header")?)?,
        input: PathBuf::from(os_string_from(unhex(&field("input")?)?)),
        input_size: field("input-size")?.parse().ok()?,
        input_mtime_ns: field("input-mtime-ns")?.parse().ok()?,
    };
    let durable = Durable {
        chunks: field("chunks")?.parse().ok()?,
        input_bytes: field("input-bytes")?.parse().ok()?,
        crc: u32::from_str_radix(&field("crc")?, 16).ok()?,
        output_bytes: field("output-bytes")?.parse().ok()?,
        last_chunk_crc: u32::from_str_radix(&field("last-chunk-crc")?, 16).ok()?,
        last_chunk_len: field("last-chunk-len")?.parse().ok()?,
    };
    (lines.next()? == "end").then_some(Journal { identity, durable })
}

fn os_string_from(bytes: Vec<u8>) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    std::ffi::OsString::from_vec(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Journal {
        Journal {
            identity: JobIdentity {
                engine: "e/1".into(),
                level: 6,
                block: 1 << 20,
                independent: false,
                header: vec![0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3, b'a', 0],
                input: PathBuf::from("/data/in put.tar"),
                input_size: 5 << 32,
                input_mtime_ns: 1_700_000_000_123_456_789,
            },
            durable: Durable {
                chunks: 12,
                input_bytes: 12 << 20,
                crc: 0xdeadbeef,
                output_bytes: 4_000_000,
                last_chunk_crc: 0x01020304,
                last_chunk_len: 1 << 20,
            },
        }
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = std::env::temp_dir().join(format!("gzfleet-journal-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.gz.gzfleet-journal");
        sample().write(&path).unwrap();
        assert_eq!(Journal::read(&path).unwrap(), sample());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writing_never_touches_a_users_file_of_a_similar_name() {
        let dir = std::env::temp_dir().join(format!("gzfleet-journal-n-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("x.gz.tmp"), b"precious").unwrap();
        sample().write(&dir.join("x.gz.gzfleet-journal")).unwrap();
        assert_eq!(fs::read(dir.join("x.gz.tmp")).unwrap(), b"precious");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damaged_journals_are_refused() {
        let text = {
            let dir =
                std::env::temp_dir().join(format!("gzfleet-journal-d-{}", std::process::id()));
            fs::create_dir_all(&dir).unwrap();
            let path = dir.join("j");
            sample().write(&path).unwrap();
            let t = fs::read_to_string(&path).unwrap();
            fs::remove_dir_all(&dir).unwrap();
            t
        };
        assert!(parse(&text).is_some());
        let cut = &text[..text.len() - 4];
        assert!(
            parse(cut).is_none(),
            "a journal without its end line was accepted"
        );
        assert!(parse(&text.replace("crc deadbeef", "crc zz")).is_none());
    }

    #[test]
    fn mismatches_are_named() {
        let j = sample();
        let mut other = j.identity.clone();
        assert_eq!(j.mismatch(&other), None);
        other.level = 9;
        assert!(
            j.mismatch(&other)
                .unwrap()
                .contains("level 6, this one level 9")
        );
        let mut changed = j.identity.clone();
        changed.input_mtime_ns += 1;
        assert!(j.mismatch(&changed).unwrap().contains("changed"));
    }
}
