//! One compression job end to end: a reader thread cutting chunks under the window,
//! the dispatcher on the async runtime, and the writer stitching answers into the
//! output in order as soon as the next one in line is there.

use std::sync::Arc;

use tokio::runtime::Runtime;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::chunker::{Chunk, Chunker};
use super::dispatch::{DispatchConfig, DispatchStats, Dispatcher};
use super::input::InputReader;
use super::order::write_in_order;
use super::output::Output;
use super::plan::JobParams;
use super::resume::Start;
use super::window::Window;
use crate::error::Error;
use crate::fleet::Fleet;
use crate::gzip::StreamCrc;
use crate::ui::{Progress, Ui};

/// What a job runs on, lent to it by the run over all inputs.
pub(crate) struct JobContext<'a> {
    pub runtime: &'a Runtime,
    pub fleet: &'a mut Fleet,
    pub config: &'a DispatchConfig,
    pub ui: &'a Ui,
}

#[derive(Debug)]
pub(crate) struct Finished {
    /// CRC and length of the whole input.
    pub crc: StreamCrc,
    /// One past the last chunk's index.
    pub chunks: u64,
    pub stats: DispatchStats,
}

/// Compresses `input` (positioned at `start.offset`) into `output`, which already
/// holds everything before `start`.
pub(crate) fn run(
    ctx: JobContext<'_>,
    job: Arc<JobParams>,
    input: InputReader,
    start: Start,
    output: &mut Output,
    progress: &Progress,
) -> Result<Finished, Error> {
    let encoding = job.encoding;
    let window = Arc::new(Window::for_fleet(
        start.index,
        encoding.block,
        ctx.fleet.capacity(),
    ));
    let chunker = Chunker::new(
        input.reader,
        encoding.block as usize,
        encoding.independent,
        ctx.fleet.is_remote(),
    )
    .resume_at(start.index, start.offset, start.dictionary.clone());
    let (chunks_tx, chunks_rx) = unbounded_channel();
    spawn_reader(chunker, input.place, Arc::clone(&window), chunks_tx)?;

    let (results_tx, results_rx) = unbounded_channel();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| write_in_order(results_rx, output, &start, &window, progress));
        let (dispatched, stats) = {
            let mut dispatcher = Dispatcher::new(
                ctx.fleet,
                job,
                ctx.config.clone(),
                ctx.ui.clone(),
                progress.clone(),
                Arc::clone(&window),
                results_tx,
            );
            let result = ctx.runtime.block_on(dispatcher.run(chunks_rx, start.index));
            (result, dispatcher.stats.clone())
            // The dispatcher drops here, closing the results channel: the writer ends.
        };
        window.close();
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(Error::Fatal("the writer thread panicked".into())));
        match (dispatched, written) {
            // The writer's own failure explains a dispatcher that saw it stop.
            (_, Err(e)) => Err(e),
            (Err(e), _) => Err(e),
            (Ok(end), Ok((next, crc))) if end == next => Ok(Finished {
                crc,
                chunks: end,
                stats,
            }),
            (Ok(end), Ok((next, _))) => Err(Error::Fatal(format!(
                "internal error: {end} chunks dispatched but {next} written"
            ))),
        }
    })
}

/// The reader is detached, not scoped: it may be blocked reading a pipe that never
/// ends when the job fails, and must not hold the failure up.
fn spawn_reader(
    mut chunker: Chunker,
    place: crate::error::Place,
    window: Arc<Window>,
    chunks: UnboundedSender<Result<Chunk, Error>>,
) -> Result<(), Error> {
    std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || {
            while window.admit(chunker.next_index()) {
                let next = match chunker.next_chunk() {
                    Ok(Some(chunk)) => Ok(chunk),
                    Ok(None) => return,
                    Err(source) => Err(Error::Read {
                        input: place.clone(),
                        source,
                    }),
                };
                let failed = next.is_err();
                if chunks.send(next).is_err() || failed {
                    return;
                }
            }
        })
        .map(|_| ())
        .map_err(|source| Error::Spawn {
            what: "the reader thread".into(),
            source,
        })
}
