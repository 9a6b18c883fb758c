//! One compression job end to end: a reader thread cutting chunks under the window,
//! the scheduler on the async runtime, and an ordered writer that stitches answers
//! into the output as soon as the next one in line is there.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use tokio::runtime::Runtime;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::backend::JobParams;
use crate::chunker::Chunker;
use crate::crc::StreamCrc;
use crate::error::Error;
use crate::fleet::Fleet;
use crate::output::Output;
use crate::progress::Progress;
use crate::scheduler::{Compressed, Scheduler, SchedulerConfig};
use crate::stats::SchedulerStats;
use crate::window::Window;

/// Where a job starts: the beginning, or where an interrupted run's output was
/// last durable.
#[derive(Debug, Clone, Default)]
pub struct Start {
    pub index: u64,
    pub offset: u64,
    /// The 32 KiB before `offset` (empty at the beginning).
    pub dictionary: Bytes,
    pub crc: StreamCrc,
}

#[derive(Debug)]
pub struct Finished {
    /// CRC and length of the whole input.
    pub crc: StreamCrc,
    /// One past the last chunk's index.
    pub chunks: u64,
    pub stats: SchedulerStats,
}

/// Memory bound for chunks held between reader and writer, whatever the fleet's size.
const WINDOW_BYTES: u64 = 512 << 20;
const MIN_WINDOW: usize = 4;

/// Compresses `input` (positioned at `start.offset`) into `output`, which already
/// holds everything before `start`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    runtime: &Runtime,
    fleet: &mut Fleet,
    params: Arc<JobParams>,
    config: &SchedulerConfig,
    input: Box<dyn Read + Send>,
    start: Start,
    output: &mut Output,
    progress: &Progress,
) -> Result<Finished, Error> {
    let max_window = ((WINDOW_BYTES / params.block.max(1)) as usize).max(MIN_WINDOW);
    let window_size = (2 * fleet.capacity() + 2).clamp(MIN_WINDOW, max_window);
    let window = Arc::new(Window::new(start.index, window_size));

    // The reader is detached, not scoped: it may be blocked reading a pipe that
    // never ends when the job fails, and must not hold the failure up.
    let (chunks_tx, chunks_rx) = unbounded_channel();
    let chunker = Chunker::new(
        input,
        params.block as usize,
        params.independent,
        fleet.is_remote(),
    )
    .resume_at(start.index, start.offset, start.dictionary.clone());
    let reader_window = Arc::clone(&window);
    std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || {
            let mut chunker = chunker;
            while reader_window.admit(chunker.next_index()) {
                match chunker.next_chunk() {
                    Ok(Some(chunk)) => {
                        if chunks_tx.send(Ok(chunk)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = chunks_tx.send(Err(e));
                        return;
                    }
                }
            }
        })
        .map_err(|e| Error::Setup(format!("cannot start the reader thread: {e}")))?;

    let (results_tx, results_rx) = unbounded_channel();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            write_in_order(
                results_rx,
                output,
                start.index,
                start.crc,
                &window,
                progress,
            )
        });
        let (scheduled, stats) = {
            let mut scheduler = Scheduler::new(
                fleet,
                params,
                config.clone(),
                (Arc::clone(&window), max_window),
                progress.clone(),
                results_tx,
            );
            let result = runtime.block_on(scheduler.run(chunks_rx, start.index));
            (result, scheduler.stats.clone())
            // The scheduler drops here, closing the results channel: the writer ends.
        };
        window.close();
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(Error::Fatal("the writer thread panicked".into())));
        match (scheduled, written) {
            // The writer's own failure explains a scheduler that saw it stop.
            (_, Err(e)) => Err(e),
            (Err(e), _) => Err(e),
            (Ok(end), Ok((next, crc))) if end == next => Ok(Finished {
                crc,
                chunks: end,
                stats,
            }),
            (Ok(end), Ok((next, _))) => Err(Error::Fatal(format!(
                "internal error: {end} chunks scheduled but {next} written"
            ))),
        }
    })
}

/// Writes answers in chunk order as they become available; returns the next index
/// and the CRC of everything written.
fn write_in_order(
    mut results: UnboundedReceiver<Compressed>,
    output: &mut Output,
    mut next: u64,
    mut crc: StreamCrc,
    window: &Window,
    progress: &Progress,
) -> Result<(u64, StreamCrc), Error> {
    let mut waiting = BTreeMap::new();
    while let Some(c) = results.blocking_recv() {
        waiting.insert(c.index, c);
        while let Some(c) = waiting.remove(&next) {
            crc.append(c.crc32, c.len);
            output.write_chunk(&c.deflate, c.crc32, c.len, crc)?;
            next += 1;
            window.advance(next);
            progress.inc(c.len);
        }
    }
    Ok((next, crc))
}
