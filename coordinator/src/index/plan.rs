//! Finding the index of a .gz (FILE.gzi beside it, as gztool names it, or one named
//! with --index-file) and vetting it against the .gz before a byte is written: its
//! first point must be where the first member's data starts, its points inside the
//! file, its uncompressed size the trailer's ISIZE. Then the spans it cuts the data
//! into. What can only be known by inflating is checked as spans are inflated
//! (`span`, `parallel`).

use std::fs::File;
use std::io::{self, BufReader};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::{Index, IndexError, PointEntry};
use super::span::{End, Start};
use crate::gzip::header::{MemberHeader, read_header};

/// The index gztool would look for: `data.gz` -> `data.gzi`, anything else gets
/// `.gzi` appended.
pub(crate) fn index_path_for(gz: &Path) -> PathBuf {
    let mut name = gz.as_os_str().to_owned();
    match gz.extension().is_some_and(|e| e == "gz") {
        true => name.push("i"),
        false => name.push(".gzi"),
    }
    PathBuf::from(name)
}

/// One span: from a start to the next point (or the end of the stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpanPlan {
    pub start: Start,
    /// Uncompressed offset of its first byte.
    pub uncompressed: u64,
    pub len: u64,
    pub end: End,
    /// The index point it starts at (None: the start of the data, before any point).
    pub point: Option<usize>,
    pub last: bool,
}

/// A vetted index and the .gz it describes.
#[derive(Debug)]
pub(crate) struct Plan {
    gz: File,
    gz_len: u64,
    index: Index,
    header: MemberHeader,
    spans: Vec<SpanPlan>,
    stored_crc: u32,
    index_path: PathBuf,
}

/// What looking for an index found.
#[derive(Debug)]
pub(crate) enum Found {
    /// No index beside the file (nothing to say).
    Absent,
    /// An index that cannot be used, and why (said in one warning line).
    Unusable {
        index: PathBuf,
        why: String,
    },
    Usable(Box<Plan>),
}

impl Found {
    /// Looks for `explicit`, else FILE.gzi, and vets it against `gz`.
    pub fn look(gz: &Path, explicit: Option<&Path>) -> Found {
        let path = explicit.map_or_else(|| index_path_for(gz), Path::to_path_buf);
        if explicit.is_none() && !path.is_file() {
            return Found::Absent;
        }
        let index = match Index::open(&path) {
            Ok(index) => index,
            Err(IndexError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                let why = "no such file".into();
                return Found::Unusable { index: path, why };
            }
            Err(e) => {
                return Found::Unusable {
                    index: path,
                    why: e.to_string(),
                };
            }
        };
        match Plan::new(gz, index, path.clone()) {
            Ok(Some(plan)) => Found::Usable(Box::new(plan)),
            // Not a gzip file we can read: the one-thread path says what is wrong.
            Ok(None) => Found::Absent,
            Err(why) => Found::Unusable { index: path, why },
        }
    }
}

impl Plan {
    fn new(gz_path: &Path, index: Index, index_path: PathBuf) -> Result<Option<Plan>, String> {
        let Ok(gz) = File::open(gz_path) else {
            return Ok(None);
        };
        let gz_len = gz.metadata().map_err(|e| e.to_string())?.len();
        let Ok(header) = read_header(&mut BufReader::new(&gz)) else {
            return Ok(None);
        };
        let name = gz_path.display();
        if gz_len < header.len + 2 + 8 {
            return Ok(None);
        }
        let stored_crc = vet_trailer(&gz, gz_len, &index, &name)?;
        let points = index.points();
        if points.iter().any(|p| p.compressed >= gz_len - 8) {
            return Err(format!("its points lie beyond the end of {name}"));
        }
        let starts = starts(points, header.len, &name)?;
        let spans = spans(&starts, index.uncompressed_size());
        Ok(Some(Plan {
            gz,
            gz_len,
            index,
            header,
            spans,
            stored_crc,
            index_path,
        }))
    }

    /// The index file.
    pub fn index_path(&self) -> &Path {
        &self.index_path
    }

    pub fn spans(&self) -> &[SpanPlan] {
        &self.spans
    }

    pub fn gz(&self) -> &File {
        &self.gz
    }

    pub fn gz_len(&self) -> u64 {
        self.gz_len
    }

    pub fn header(&self) -> &MemberHeader {
        &self.header
    }

    pub fn stored_crc(&self) -> u32 {
        self.stored_crc
    }

    /// The uncompressed size of the data, as the index says (and the trailer agrees
    /// mod 2^32).
    pub fn size(&self) -> u64 {
        self.index.uncompressed_size()
    }

    /// The window a span starts with (empty at the start of the data).
    pub fn window(&self, span: &SpanPlan) -> Result<Vec<u8>, IndexError> {
        match span.point {
            Some(i) => self.index.window(i),
            None => Ok(Vec::new()),
        }
    }
}

/// The trailer's CRC-32, once its ISIZE agrees with the index's size.
fn vet_trailer(
    gz: &File,
    gz_len: u64,
    index: &Index,
    name: &impl std::fmt::Display,
) -> Result<u32, String> {
    let mut trailer = [0u8; 8];
    gz.read_exact_at(&mut trailer, gz_len - 8)
        .map_err(|e| e.to_string())?;
    let stored_crc = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes"));
    let isize = u32::from_le_bytes(trailer[4..].try_into().expect("4 bytes"));
    let size = index.uncompressed_size();
    if isize != size as u32 {
        return Err(format!(
            "it is of {size} bytes of data, {name}'s trailer says {isize} (mod 2^32): stale, of another file, or several members"
        ));
    }
    Ok(stored_crc)
}

/// Where each span starts: the data's start (the first point, or before it), then
/// every point; with its uncompressed offset and its point's place in the index.
type SpanStart = (Start, u64, Option<usize>);

fn starts(
    points: &[PointEntry],
    header_len: u64,
    name: &impl std::fmt::Display,
) -> Result<Vec<SpanStart>, String> {
    let mut starts: Vec<SpanStart> = Vec::with_capacity(points.len() + 1);
    match points.first() {
        Some(p) if p.uncompressed == 0 => {
            if p.compressed != header_len || p.bits != 0 || p.has_window() {
                return Err(format!("its first point is not where {name}'s data starts"));
            }
        }
        // A first point later on: the data's start is one too.
        _ => starts.push((
            Start {
                compressed: header_len,
                bits: 0,
            },
            0,
            None,
        )),
    }
    for (i, p) in points.iter().enumerate() {
        let start = Start {
            compressed: p.compressed,
            bits: p.bits,
        };
        starts.push((start, p.uncompressed, Some(i)));
    }
    Ok(starts)
}

/// The spans between consecutive starts, the last to the end of `size` bytes.
fn spans(starts: &[SpanStart], size: u64) -> Vec<SpanPlan> {
    let n = starts.len();
    (0..n)
        .map(|k| {
            let (start, uncompressed, point) = starts[k];
            let (len, end) = match starts.get(k + 1) {
                Some(&(next, at, _)) => (
                    at - uncompressed,
                    End::Point {
                        compressed: next.compressed,
                        bits: next.bits,
                    },
                ),
                None => (size - uncompressed, End::Stream),
            };
            SpanPlan {
                start,
                uncompressed,
                len,
                end,
                point,
                last: k + 1 == n,
            }
        })
        .collect()
}
