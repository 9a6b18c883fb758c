//! Direct output, the worker's side of holding: the deflate data of segments
//! compressed and not yet written, until the coordinator says where they go
//! (`WriteSegment`), and how a held segment is written.
//!
//! Memory is bounded whatever clients send: segments share one budget (`--hold-memory`);
//! a segment that does not fit goes on being built in an unlinked temporary file on
//! local disk (`--spill-dir`, the system's temporary folder by default), so it costs
//! disk, not memory, and vanishes with the process. At most [`MAX_HELD`] segments are
//! held, and none longer than [`HOLD_FOR`]: a coordinator that died never comes back
//! for its segments, and the oldest go first. A segment asked for and gone is
//! NOT_FOUND, and the coordinator compresses it again elsewhere (same bytes).
//!
//! Writing keeps to whole aligned blocks inside the segment's range: no block of the
//! output is written by two hosts (NFS widens a partial-page write to the whole cached
//! page, which would overwrite a neighbour's bytes with stale ones). The bytes before
//! the first whole block and after the last are returned, and the coordinator writes
//! them with the header and trailer.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Segments held at once, whatever their size: beyond, the oldest is dropped.
pub const MAX_HELD: usize = 256;
/// How long a segment waits to be written before it is dropped.
pub const HOLD_FOR: Duration = Duration::from_secs(600);
/// Pieces a spilled segment is copied through when written.
const COPY_PIECE: usize = 8 << 20;

/// One segment's deflate data, in memory or spilled to a temporary file.
pub struct Sink<'a> {
    store: &'a HeldStore,
    memory: Vec<u8>,
    spilled: Option<File>,
    len: u64,
}

impl Sink<'_> {
    /// Appends a chunk's deflate data.
    pub fn push(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.spilled.is_none() && !self.store.reserve(bytes.len() as u64) {
            let mut file = tempfile::tempfile_in(&self.store.spill_dir)?;
            file.write_all(&self.memory)?;
            self.store.release(self.memory.len() as u64);
            self.memory = Vec::new();
            self.spilled = Some(file);
        }
        match &mut self.spilled {
            Some(file) => file.write_all(bytes)?,
            None => self.memory.extend_from_slice(bytes),
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads `buf.len()` bytes at `at`.
    fn read_at(&self, buf: &mut [u8], at: u64) -> io::Result<()> {
        match &self.spilled {
            Some(file) => file.read_exact_at(buf, at),
            None => {
                let at = at as usize;
                buf.copy_from_slice(&self.memory[at..at + buf.len()]);
                Ok(())
            }
        }
    }

    /// Writes the segment into `out` at `offset`: only the whole `align`-byte blocks
    /// inside it, then fsync. Returns the head and tail left for the coordinator.
    pub fn write_into(
        &self,
        out: &File,
        offset: u64,
        align: u64,
    ) -> io::Result<(Vec<u8>, Vec<u8>)> {
        let (first, last) = aligned_inside(offset, self.len, align);
        let mut head = vec![0; (first - offset) as usize];
        self.read_at(&mut head, 0)?;
        let mut tail = vec![0; (offset + self.len - last) as usize];
        self.read_at(&mut tail, last - offset)?;
        let mut at = first;
        let mut piece = Vec::new();
        while at < last {
            let n = ((last - at) as usize).min(COPY_PIECE);
            match &self.spilled {
                None => {
                    let from = (at - offset) as usize;
                    out.write_all_at(&self.memory[from..from + n], at)?;
                }
                Some(_) => {
                    piece.resize(n, 0);
                    self.read_at(&mut piece, at - offset)?;
                    out.write_all_at(&piece, at)?;
                }
            }
            at += n as u64;
        }
        if first < last {
            out.sync_data()?;
        }
        Ok((head, tail))
    }
}

impl Drop for Sink<'_> {
    fn drop(&mut self) {
        self.store.release(self.memory.len() as u64);
    }
}

/// `[first, last)`: the whole `align`-byte blocks inside `[offset, offset + len)`;
/// empty (`first == last`) when there is none. `align` is a power of two.
pub fn aligned_inside(offset: u64, len: u64, align: u64) -> (u64, u64) {
    let end = offset + len;
    let first = offset.next_multiple_of(align);
    let last = end - end % align;
    match first < last {
        true => (first, last),
        false => (end, end),
    }
}

/// A held segment, with what identifies it besides its id.
struct Entry {
    job_id: String,
    first_chunk: u64,
    since: Instant,
    data: Sink<'static>,
}

/// The segments a worker holds.
pub struct HeldStore {
    budget: u64,
    spill_dir: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    in_memory: u64,
    next_id: u64,
    held: HashMap<u64, Entry>,
}

/// Why a held segment cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum HeldError {
    #[error(
        "segment {0} is not held here (never compressed here, dropped after {HOLD_FOR:?} or to make room, or written already)"
    )]
    Gone(u64),
    #[error("segment {id} is not what the request describes ({what})")]
    Mismatch { id: u64, what: String },
}

impl HeldStore {
    /// A store of at most `budget` bytes in memory, spilling to `spill_dir`. Leaked:
    /// a worker has one for its whole life, and held segments borrow it.
    pub fn new(budget: u64, spill_dir: PathBuf) -> &'static HeldStore {
        // Ids start from the clock, so a restarted worker does not take a stale
        // request for one of its new segments.
        let next_id = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 | 1);
        Box::leak(Box::new(HeldStore {
            budget,
            spill_dir,
            state: Mutex::new(State {
                next_id,
                ..State::default()
            }),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reserve(&self, n: u64) -> bool {
        let mut s = self.lock();
        let fits = s.in_memory + n <= self.budget;
        if fits {
            s.in_memory += n;
        }
        fits
    }

    fn release(&self, n: u64) {
        let mut s = self.lock();
        s.in_memory = s.in_memory.saturating_sub(n);
    }

    /// An empty segment to fill.
    pub fn sink(&'static self) -> Sink<'static> {
        Sink {
            store: self,
            memory: Vec::new(),
            spilled: None,
            len: 0,
        }
    }

    /// Bytes of held data in memory.
    pub fn in_memory(&self) -> u64 {
        self.lock().in_memory
    }

    /// Holds `data`, returning its id; drops what waited too long, and the oldest
    /// past [`MAX_HELD`].
    pub fn hold(&self, job_id: &str, first_chunk: u64, data: Sink<'static>) -> u64 {
        let now = Instant::now();
        let mut dropped = Vec::new();
        let mut s = self.lock();
        let stale: Vec<u64> = s
            .held
            .iter()
            .filter(|(_, e)| now.duration_since(e.since) > HOLD_FOR)
            .map(|(&id, _)| id)
            .collect();
        dropped.extend(stale.iter().filter_map(|id| s.held.remove(id)));
        while s.held.len() >= MAX_HELD {
            let oldest = s
                .held
                .iter()
                .min_by_key(|(_, e)| e.since)
                .map(|(&id, _)| id);
            dropped.extend(oldest.and_then(|id| s.held.remove(&id)));
        }
        let id = s.next_id;
        s.next_id = s.next_id.wrapping_add(2);
        s.held.insert(
            id,
            Entry {
                job_id: job_id.to_string(),
                first_chunk,
                since: now,
                data,
            },
        );
        drop(s);
        // Freed outside the lock: a Sink's drop takes it.
        drop(dropped);
        id
    }

    /// Takes segment `id` out, if it is the one described.
    pub fn take(
        &self,
        id: u64,
        job_id: &str,
        first_chunk: u64,
        len: u64,
    ) -> Result<Sink<'static>, HeldError> {
        let mut s = self.lock();
        let entry = s.held.get(&id).ok_or(HeldError::Gone(id))?;
        let what = match () {
            _ if entry.job_id != job_id => format!("job {}, not {job_id}", entry.job_id),
            _ if entry.first_chunk != first_chunk => {
                format!("first chunk {}, not {first_chunk}", entry.first_chunk)
            }
            _ if entry.data.len() != len => format!("{} bytes, not {len}", entry.data.len()),
            _ => String::new(),
        };
        if !what.is_empty() {
            return Err(HeldError::Mismatch { id, what });
        }
        Ok(s.held.remove(&id).expect("just found").data)
    }
}

#[cfg(test)]
#[path = "held_tests.rs"]
mod tests;
