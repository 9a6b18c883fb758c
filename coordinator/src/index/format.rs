//! gztool's index file format (`.gzi`), byte for byte as gztool 1.x writes and reads it
//! (`serialize_index_to_file` / `deserialize_index_from_file` in gztool.c). Every
//! integer is big-endian:
//!
//! ```text
//! header   u64 0 · "gzipindx" (v0) or "gzipindX" (v1, then u32 line_number_format)
//!          · u64 have · u64 size        (have == size once complete; while growing
//!                                         gztool leaves size = u64::MAX)
//! point    u64 out (uncompressed offset) · u64 in (offset in the .gz of the first
//!          full byte) · u32 bits (0..7: bits of the byte at in-1 that belong to the
//!          point) · u32 window_size · window_size bytes: the 32 KiB of output before
//!          the point, zlib-compressed (deflateInit, level 6); window_size 0 = no window
//!          · (v1 only: u64 line_number)
//! tail     u64 uncompressed size of the whole file · (v1 only: u64 number_of_lines)
//! ```
//!
//! gzfleet writes v0. It reads both; line numbers are skipped. Windows stay on disk
//! and are read one at a time ([`Index::window`]): a large file's index holds
//! thousands of them.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

const MAGIC_V0: &[u8; 8] = b"gzipindx";
const MAGIC_V1: &[u8; 8] = b"gzipindX";
/// Bytes before the first point: u64 0, magic, have, size (v1 adds 4).
const HEADER: u64 = 32;
/// A point without its window (v1 adds 8 for the line number).
const POINT_FIXED: u64 = 24;
/// Deflate's window: no point needs more history than this.
pub(crate) const WINDOW: usize = 32 * 1024;
/// zlib's compressBound(32 KiB) with room to spare: a longer stored window is damage.
const MAX_COMPRESSED_WINDOW: u32 = 33 * 1024;
/// More points than any real file needs (16 Mi points of 1 MiB spans cover 16 TiB);
/// the table costs 32 bytes a point, so a hostile count stays bounded.
const MAX_POINTS: u64 = 1 << 24;
/// gztool compresses windows with Z_DEFAULT_COMPRESSION.
const WINDOW_LEVEL: u32 = 6;

/// One access point, as the writer is given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Point {
    /// Offset in the .gz file of the first byte inflation reads whole: with `bits` != 0
    /// the point starts `bits` bits before it, in the high bits of byte
    /// `compressed - 1` (gztool primes inflate with `byte >> (8 - bits)`).
    pub compressed: u64,
    /// 0..=7.
    pub bits: u8,
    /// Offset in the uncompressed data.
    pub uncompressed: u64,
    /// The uncompressed bytes just before the point, at most 32 KiB (fewer near the
    /// start). Empty where inflation needs no history: at the start of a member, or
    /// after a chunk compressed with `-i`. gztool writes such a point itself (its first,
    /// after the gzip header) and skips inflateSetDictionary for it; rapidgzip's
    /// `--import-index` reads gztool's indexes, so it accepts them too.
    pub window: Vec<u8>,
}

/// Streams an index to `W`: the header at [`IndexWriter::new`], each point as it is
/// pushed, the counts patched and the size written at [`IndexWriter::finish`]. Only
/// the point being written is ever held.
pub(crate) struct IndexWriter<W: Write + Seek> {
    out: W,
    points: u64,
    byte_len: u64,
}

impl<W: Write + Seek> IndexWriter<W> {
    /// Writes the header of an index still growing (as gztool marks one: have 0,
    /// size u64::MAX), which no reader takes for complete.
    pub fn new(mut w: W) -> io::Result<Self> {
        w.seek(SeekFrom::Start(0))?;
        w.write_all(&0u64.to_be_bytes())?;
        w.write_all(MAGIC_V0)?;
        w.write_all(&0u64.to_be_bytes())?;
        w.write_all(&u64::MAX.to_be_bytes())?;
        Ok(Self {
            out: w,
            points: 0,
            byte_len: HEADER,
        })
    }

    /// Continues an index whose first `points` points end at `byte_len` (a durable
    /// point recorded earlier from [`IndexWriter::points`] and
    /// [`IndexWriter::byte_len`]). Bytes past `byte_len` must be gone already (the
    /// caller truncates the file, e.g. `File::set_len(byte_len)`): the writer only
    /// seeks there. The header is marked growing again: the index may have been
    /// finished once (a run that failed after sealing it keeps it for `--resume`), and
    /// counts that no longer describe it must not make it look complete.
    pub fn reopen(mut w: W, points: u64, byte_len: u64) -> io::Result<Self> {
        if byte_len < HEADER + points * POINT_FIXED {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("an index of {points} points cannot end at byte {byte_len}"),
            ));
        }
        w.seek(SeekFrom::Start(16))?;
        w.write_all(&0u64.to_be_bytes())?;
        w.write_all(&u64::MAX.to_be_bytes())?;
        w.seek(SeekFrom::Start(byte_len))?;
        Ok(Self {
            out: w,
            points,
            byte_len,
        })
    }

    /// Appends one point, its window compressed as gztool compresses it.
    pub fn push(&mut self, p: &Point) -> io::Result<()> {
        if p.bits > 7 || p.window.len() > WINDOW {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an index point has at most 7 bits and a 32 KiB window",
            ));
        }
        let window = compress_window(&p.window)?;
        let mut fixed = [0u8; POINT_FIXED as usize];
        fixed[0..8].copy_from_slice(&p.uncompressed.to_be_bytes());
        fixed[8..16].copy_from_slice(&p.compressed.to_be_bytes());
        fixed[16..20].copy_from_slice(&u32::from(p.bits).to_be_bytes());
        fixed[20..24].copy_from_slice(&(window.len() as u32).to_be_bytes());
        self.out.write_all(&fixed)?;
        self.out.write_all(&window)?;
        self.points += 1;
        self.byte_len += POINT_FIXED + window.len() as u64;
        Ok(())
    }

    /// Points written so far.
    pub fn points(&self) -> u64 {
        self.points
    }

    /// Bytes written so far: with [`IndexWriter::points`], what [`IndexWriter::reopen`]
    /// needs to continue from here.
    pub fn byte_len(&self) -> u64 {
        self.byte_len
    }

    /// The destination, e.g. to make it durable (`sync_data`) at a journal point.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Writes the uncompressed size and the final counts (have = size), which make
    /// the index complete, and flushes. The writer keeps the destination: a caller
    /// whose next step fails still holds it, to make durable what the journal counts
    /// ([`IndexWriter::reopen`] cuts the rest off and undoes the counts).
    pub fn finish(&mut self, uncompressed_size: u64) -> io::Result<()> {
        self.out.seek(SeekFrom::Start(self.byte_len))?;
        self.out.write_all(&uncompressed_size.to_be_bytes())?;
        self.out.seek(SeekFrom::Start(16))?;
        self.out.write_all(&self.points.to_be_bytes())?;
        self.out.write_all(&self.points.to_be_bytes())?;
        self.out.seek(SeekFrom::Start(self.byte_len + 8))?;
        self.out.flush()
    }

    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }
}

fn compress_window(window: &[u8]) -> io::Result<Vec<u8>> {
    if window.is_empty() {
        return Ok(Vec::new());
    }
    let mut z = ZlibEncoder::new(Vec::new(), Compression::new(WINDOW_LEVEL));
    z.write_all(window)?;
    z.finish()
}

/// Why an index cannot be used. Each names the problem; the caller adds which file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IndexError {
    #[error("cannot read the index: {0}")]
    Io(#[from] io::Error),
    #[error("not a gztool index (no gzipindx header)")]
    NotAnIndex,
    #[error("the index is incomplete (its writer did not finish)")]
    Incomplete,
    #[error("the index is truncated or its point count is wrong ({0} points declared)")]
    BadCount(u64),
    #[error("the index is truncated")]
    Truncated,
    #[error("the index is damaged at point {point}: {what}")]
    Damaged { point: u64, what: &'static str },
    #[error("the index is damaged: {0}")]
    DamagedTail(&'static str),
}

/// One point as read: offsets, and where its compressed window lies in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PointEntry {
    pub compressed: u64,
    pub uncompressed: u64,
    window_at: u64,
    window_len: u32,
    pub bits: u8,
}

impl PointEntry {
    /// Whether the point carries a window (else inflation starts without history).
    pub fn has_window(&self) -> bool {
        self.window_len > 0
    }
}

/// A checked index: its point table in memory, the windows left in the file.
#[derive(Debug)]
pub(crate) struct Index {
    file: File,
    points: Vec<PointEntry>,
    uncompressed_size: u64,
}

impl Index {
    /// Opens and checks an index file (see [`Index::read`]).
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        Self::read(File::open(path)?)
    }

    /// Reads the point table, checking the structure: the magic, the count against
    /// the file's length, each window's length, offsets that increase, the tail (the
    /// file ends exactly after it) and a size not below the last point. Windows are
    /// only checked when read.
    pub fn read(file: File) -> Result<Self, IndexError> {
        let len = file.metadata()?.len();
        let mut r = io::BufReader::new(&file);
        r.seek(SeekFrom::Start(0))?;
        let mut head = [0u8; 16];
        r.read_exact(&mut head)
            .map_err(|_| IndexError::NotAnIndex)?;
        let v1 = match (&head[0..8], &head[8..16]) {
            (z, m) if z == [0u8; 8] && m == MAGIC_V0 => false,
            (z, m) if z == [0u8; 8] && m == MAGIC_V1 => true,
            _ => return Err(IndexError::NotAnIndex),
        };
        let mut at = 16u64;
        if v1 {
            read_u32(&mut r)?; // line_number_format: only gztool's -L needs it
            at += 4;
        }
        let have = read_u64(&mut r)?;
        let size = read_u64(&mut r)?;
        at += 16;
        if have != size {
            return Err(IndexError::Incomplete);
        }
        let (point_fixed, tail) = if v1 {
            (POINT_FIXED + 8, 16)
        } else {
            (POINT_FIXED, 8)
        };
        let room = len.saturating_sub(at + tail) / point_fixed;
        if have > room || have > MAX_POINTS {
            return Err(IndexError::BadCount(have));
        }
        let mut points: Vec<PointEntry> = Vec::with_capacity(have as usize);
        for i in 0..have {
            let damaged = |what| IndexError::Damaged { point: i + 1, what };
            let uncompressed = read_u64(&mut r)?;
            let compressed = read_u64(&mut r)?;
            let bits = read_u32(&mut r)?;
            let window_len = read_u32(&mut r)?;
            at += POINT_FIXED;
            if bits > 7 {
                return Err(damaged("more than 7 bits"));
            }
            if window_len > MAX_COMPRESSED_WINDOW {
                return Err(damaged("a window longer than 32 KiB can compress to"));
            }
            if at + u64::from(window_len) > len {
                return Err(IndexError::BadCount(have));
            }
            if let Some(prev) = points.last()
                && (compressed <= prev.compressed || uncompressed <= prev.uncompressed)
            {
                return Err(damaged("offsets that do not increase"));
            }
            if bits != 0 && compressed == 0 {
                return Err(damaged("bits before the start of the file"));
            }
            points.push(PointEntry {
                compressed,
                uncompressed,
                window_at: at,
                window_len,
                bits: bits as u8,
            });
            r.seek_relative(i64::from(window_len))?;
            at += u64::from(window_len);
            if v1 {
                read_u64(&mut r)?; // line number
                at += 8;
            }
        }
        if len != at + tail {
            return Err(IndexError::BadCount(have));
        }
        let uncompressed_size = read_u64(&mut r)?;
        if points
            .last()
            .is_some_and(|p| p.uncompressed > uncompressed_size)
        {
            return Err(IndexError::DamagedTail(
                "its size is below its last point's offset",
            ));
        }
        drop(r);
        Ok(Self {
            file,
            points,
            uncompressed_size,
        })
    }

    /// The points, in increasing order of both offsets.
    pub fn points(&self) -> &[PointEntry] {
        &self.points
    }

    /// The uncompressed size of the whole file, as the index records it.
    pub fn uncompressed_size(&self) -> u64 {
        self.uncompressed_size
    }

    /// Reads and inflates point `i`'s window (empty when the point has none). Safe to
    /// call from several threads at once.
    pub fn window(&self, i: usize) -> Result<Vec<u8>, IndexError> {
        let p = &self.points[i];
        if p.window_len == 0 {
            return Ok(Vec::new());
        }
        let mut packed = vec![0u8; p.window_len as usize];
        self.file.read_exact_at(&mut packed, p.window_at)?;
        let damaged = |what| IndexError::Damaged {
            point: i as u64 + 1,
            what,
        };
        let mut window = Vec::with_capacity(WINDOW);
        ZlibDecoder::new(&packed[..])
            .take(WINDOW as u64 + 1)
            .read_to_end(&mut window)
            .map_err(|_| damaged("its window does not inflate (damaged)"))?;
        if window.len() > WINDOW {
            return Err(damaged("its window inflates to over 32 KiB (damaged)"));
        }
        Ok(window)
    }
}

/// An index shorter than its header says is truncated, not an I/O failure.
fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> Result<(), IndexError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => IndexError::Truncated,
        _ => IndexError::Io(e),
    })
}

fn read_u64(r: &mut impl Read) -> Result<u64, IndexError> {
    let mut b = [0u8; 8];
    read_exact(r, &mut b)?;
    Ok(u64::from_be_bytes(b))
}

fn read_u32(r: &mut impl Read) -> Result<u32, IndexError> {
    let mut b = [0u8; 4];
    read_exact(r, &mut b)?;
    Ok(u32::from_be_bytes(b))
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
