//! Decompressing a whole .gz with its index on several threads. Spans (point to next
//! point) are inflated in parallel and written in order, through bounded channels: at
//! most `threads + 1` spans are under way, each holding at most [`SHARE`] of output,
//! so memory grows with `-p` (up to [`MAX_THREADS`]), never with the file or its spans.
//! A span inflated whole (`whole`) holds its compressed bytes and all its output at
//! once instead of a channel's worth: it is only sent that way when both fit in the
//! same share. Outputs are used again once written (`buffers`: never more than one per
//! span under way, waiting or not), and each thread keeps the buffer it builds
//! compressed streams in (up to 9/8 of a share): at worst 210 MiB at `-p 2`, 1.4 GiB
//! at 16 threads; in practice a whole span holds its output (4 or 16 MiB by default)
//! and its compressed bytes.
//!
//! Nothing the index says is believed before it is proved, and every byte written is
//! a prefix of what one-thread decoding gives: span 0 starts where the first member's
//! data starts, with no history; each span ends exactly at the next point's byte and
//! bit, right after an end-of-block code (`span`); and before a span's first byte is
//! written, its window must equal the last bytes already written. A window shorter
//! than the history it needs cannot give wrong bytes either: inflate refuses a
//! distance beyond it. The spans' CRCs, joined, must equal the trailer's, and the
//! trailer must end the file (one member). When anything disagrees, the caller is
//! told how many (correct) bytes were written, and finishes with the one-thread path.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::buffers::Buffers;
use super::plan::{Plan, SpanPlan};
use super::span::{Finished, Gz, Inflater, PIECE, SpanError};
use super::whole::MAX_WHOLE;
use crate::gzip::{Decoded, StreamCrc};

/// Output one span under way may hold waiting for the writer. A span waiting its turn
/// must be able to run ahead while the one before it is written, or the threads take
/// turns instead of working at once: so each may hold its whole output, up to this.
/// A share per span, not a total split among them: split, 16 spans (`-p 15`) would
/// each get 8 MiB, too little for the default 16 MiB spans to be inflated whole, and
/// many cores would be slower than few.
const SHARE: u64 = 40 << 20;
/// Inflating threads at most, whatever `-p` says: 16 inflate over 10 GiB/s, more than
/// one writer can write, and memory would grow with no gain.
const MAX_THREADS: usize = 16;
const WINDOW: usize = super::format::WINDOW;

/// Why indexed decompression stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The index (or the data) is not what it claims: `written` bytes, all correct,
    /// are out; the one-thread path can finish from there.
    #[error("{why}")]
    Index { written: u64, why: String },
    /// The output cannot be written: no other path would do better.
    #[error("{0}")]
    Write(std::io::Error),
}

enum Msg {
    Window(Vec<u8>),
    Piece(Bytes),
    Done(Result<Finished, String>),
}

/// Inflates the whole member into `out` on `threads` threads.
pub(crate) fn decompress(
    plan: &Plan,
    threads: usize,
    out: &mut dyn Write,
) -> Result<Decoded, Failure> {
    let spans = plan.spans();
    let threads = threads.clamp(1, spans.len().clamp(1, MAX_THREADS));
    let (job_tx, job_rx) = channel::<(usize, SyncSender<Msg>)>();
    let job_rx = Mutex::new(job_rx);
    let mut writer = Writer {
        out,
        written: 0,
        tail: Vec::with_capacity(2 * WINDOW),
        recent: VecDeque::new(),
        recent_len: 0,
        crc: StreamCrc::default(),
        file_len: plan.gz_len(),
        whole: 0,
    };
    let buffers = Buffers::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let inflater = Inflater::new(WHOLE_CAP, Arc::clone(&buffers));
            s.spawn(|| work(plan, &job_rx, inflater));
        }
        let mut pending: VecDeque<Receiver<Msg>> = VecDeque::new();
        let mut next = 0;
        let result = (|| {
            for (i, span) in spans.iter().enumerate() {
                while pending.len() <= threads && next < spans.len() {
                    let (tx, rx) = sync_channel(capacity(spans[next].len));
                    // The workers outlive this loop: a send cannot fail.
                    let _ = job_tx.send((next, tx));
                    pending.push_back(rx);
                    next += 1;
                }
                let rx = pending.pop_front().expect("span queued above");
                writer.span(i, span, &rx)?;
            }
            Ok(())
        })();
        // Workers still inflating find their receivers gone and stop.
        drop(job_tx);
        drop(pending);
        result
    })?;
    let (crc, total) = (writer.crc.crc, writer.crc.len);
    if crc != plan.stored_crc() {
        return Err(writer.fail(format!(
            "the data's CRC-32 ({crc:08x}) is not the trailer's ({:08x})",
            plan.stored_crc()
        )));
    }
    Ok(Decoded {
        members: 1,
        compressed: plan.gz_len(),
        uncompressed: total,
        crc,
        mtime: plan.header().mtime,
        first_header: plan.header().len,
        trailing_zeros: 0,
        trailing_garbage: 0,
        indexed_spans: spans.len() as u64,
        whole_spans: writer.whole,
        ..Decoded::default()
    })
}

/// Messages a span's channel holds: its pieces, up to its [`SHARE`], and its window
/// and end.
fn capacity(span_len: u64) -> usize {
    let pieces = span_len.div_ceil(PIECE as u64);
    (pieces.min(SHARE / PIECE as u64) + 2) as usize
}

/// Memory a span may hold to be inflated whole: its [`SHARE`], as a streamed span's
/// channel has.
const WHOLE_CAP: u64 = if SHARE < MAX_WHOLE { SHARE } else { MAX_WHOLE };

/// One inflating thread: takes the next span, sends its window, pieces and end.
fn work(plan: &Plan, jobs: &Mutex<Receiver<(usize, SyncSender<Msg>)>>, mut inflater: Inflater) {
    loop {
        let job = jobs.lock().map(|rx| rx.recv());
        let Ok(Ok((i, tx))) = job else { return };
        let span = &plan.spans()[i];
        let window = match plan.window(span) {
            Ok(w) => w,
            Err(e) => {
                let _ = tx.send(Msg::Done(Err(e.to_string())));
                continue;
            }
        };
        if tx.send(Msg::Window(window.clone())).is_err() {
            return;
        }
        let mut emit = |piece| tx.send(Msg::Piece(piece)).is_ok();
        let gz = Gz {
            file: plan.gz(),
            len: plan.gz_len(),
        };
        let done = inflater.inflate(gz, span.start, &window, span.len, span.end, &mut emit);
        let done = match done {
            Err(SpanError::Cancelled) => return,
            other => other.map_err(|e| format!("span {}: {e}", i + 1)),
        };
        if tx.send(Msg::Done(done)).is_err() {
            return;
        }
    }
}

/// The in-order side: checks each span's window against what is written, writes its
/// pieces, joins its CRC.
struct Writer<'a> {
    out: &'a mut dyn Write,
    written: u64,
    /// The last 32 KiB written before the current span (up to 64 KiB before it is
    /// trimmed).
    tail: Vec<u8>,
    /// The current span's last pieces, enough to cover 32 KiB: shared, not copied,
    /// until the span is done and they are joined to `tail` (a copy of every piece's
    /// end would cost an eighth of the output again).
    recent: VecDeque<Bytes>,
    recent_len: usize,
    crc: StreamCrc,
    /// The .gz's length: the last span's trailer must end it.
    file_len: u64,
    /// Spans inflated whole (`whole`).
    whole: u64,
}

impl Writer<'_> {
    fn fail(&self, why: String) -> Failure {
        Failure::Index {
            written: self.written,
            why,
        }
    }

    fn span(&mut self, i: usize, span: &SpanPlan, rx: &Receiver<Msg>) -> Result<(), Failure> {
        let lost = || format!("span {}: its thread stopped", i + 1);
        match rx.recv() {
            Ok(Msg::Window(w)) => self.check_window(i, &w)?,
            Ok(Msg::Done(Err(why))) => return Err(self.fail(why)),
            _ => return Err(self.fail(lost())),
        }
        loop {
            match rx.recv() {
                Ok(Msg::Piece(p)) => self.write(p)?,
                Ok(Msg::Done(Ok(f))) => {
                    self.settle_tail();
                    self.crc.append(f.crc, f.len);
                    self.whole += u64::from(f.whole);
                    if span.last && f.end + 8 != self.file_len {
                        return Err(self.fail(
                            "the gzip member does not end the file (several members, or data after it)".into(),
                        ));
                    }
                    return Ok(());
                }
                Ok(Msg::Done(Err(why))) => return Err(self.fail(why)),
                _ => return Err(self.fail(lost())),
            }
        }
    }

    fn check_window(&self, i: usize, window: &[u8]) -> Result<(), Failure> {
        let ok = window.len() as u64 <= self.written
            && window.len() <= self.tail.len()
            && self.tail.ends_with(window);
        match ok {
            true => Ok(()),
            false => Err(self.fail(format!(
                "point {}'s window is not the data before it (the index is of another file, or stale)",
                i + 1
            ))),
        }
    }

    fn write(&mut self, piece: Bytes) -> Result<(), Failure> {
        self.out.write_all(&piece).map_err(Failure::Write)?;
        self.written += piece.len() as u64;
        self.recent_len += piece.len();
        self.recent.push_back(piece);
        while self.recent_len - self.recent[0].len() >= WINDOW {
            let old = self.recent.pop_front().expect("more than one piece");
            self.recent_len -= old.len();
        }
        Ok(())
    }

    /// The span is done: its last bytes join the tail the next window is checked
    /// against.
    fn settle_tail(&mut self) {
        for piece in self.recent.drain(..) {
            if piece.len() >= WINDOW {
                self.tail.clear();
                self.tail.extend_from_slice(&piece[piece.len() - WINDOW..]);
            } else {
                self.tail.extend_from_slice(&piece);
                if self.tail.len() > 2 * WINDOW {
                    self.tail.drain(..self.tail.len() - WINDOW);
                }
            }
        }
        self.recent_len = 0;
    }
}
