//! One run end to end: the reader thread producing the stream of every input's items
//! under the window, the dispatcher on the async runtime, and the writer finishing
//! each input in order as soon as its next item is there.

use std::sync::Arc;

use tokio::runtime::Runtime;
use tokio::sync::mpsc::unbounded_channel;

use super::direct::DirectWriter;
use super::dispatch::{DispatchConfig, DispatchStats, Dispatcher};
use super::order::{Writer, Written};
use super::plan::{JobParams, Plan};
use super::stream::{Inputs, spawn_reader};
use super::window::Window;
use crate::error::Error;
use crate::fleet::Fleet;
use crate::telemetry::Telemetry;
use crate::ui::{Progress, Ui};

/// What a run works with, lent to it by the command.
pub(crate) struct JobContext<'a> {
    pub runtime: &'a Runtime,
    pub fleet: &'a mut Fleet,
    pub config: &'a DispatchConfig,
    pub ui: &'a Ui,
    pub telemetry: &'a Telemetry,
}

/// How a run ended.
pub(crate) struct Finished {
    pub written: Written,
    pub stats: DispatchStats,
    /// Why the run stopped before its end (the fleet gone, a chunk that kept failing,
    /// an interrupt), with the output it was writing abandoned.
    pub error: Option<Error>,
}

/// Compresses every input of `inputs`, each into its own output.
pub(crate) fn run(
    ctx: JobContext<'_>,
    inputs: Inputs,
    job: Arc<JobParams>,
    progress: &Progress,
) -> Result<Finished, Error> {
    let plan: Arc<Plan> = Arc::clone(&inputs.plan);
    let window = Arc::new(Window::for_fleet(
        0,
        job.encoding.block,
        ctx.fleet.capacity(),
    ));
    let count = inputs.named.len();
    let (items_tx, items_rx) = unbounded_channel();
    spawn_reader(inputs, Arc::clone(&window), items_tx)?;

    let (results_tx, results_rx) = unbounded_channel();
    let direct = plan.direct.as_ref().map(|_| {
        let fleet = ctx.fleet.workers().filter_map(|(_, w)| w.link().segments());
        DirectWriter::new(fleet.collect())
    });
    let writer = Writer {
        direct: direct.as_ref(),
        plan: &plan,
        ui: ctx.ui,
        window: &window,
        progress,
        say_each: count > 1,
        inputs: count,
    };
    std::thread::scope(|scope| {
        let writing = scope.spawn(|| writer.run(results_rx));
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
            dispatcher.telemetry = ctx.telemetry.clone();
            let result = ctx.runtime.block_on(dispatcher.run(items_rx));
            (result, dispatcher.stats.clone())
            // The dispatcher drops here, closing the results channel: the writer ends.
        };
        window.close();
        let mut written = writing
            .join()
            .unwrap_or_else(|_| Err(Error::Fatal("the writer thread panicked".into())))?;
        let error = why_stopped(dispatched, &mut written);
        let mut stats = stats;
        stats.received_bytes += direct.as_ref().map_or(0, DirectWriter::received);
        Ok(Finished {
            written,
            stats,
            error,
        })
    })
}

/// Why the run stopped before its end, if it did, with the output being written then
/// abandoned for that reason.
fn why_stopped(dispatched: Result<u64, Error>, written: &mut Written) -> Option<Error> {
    let error = match dispatched {
        Ok(end) if end == written.next => None,
        Ok(end) => Some(Error::Fatal(format!(
            "internal error: {end} items dispatched but {} written",
            written.next
        ))),
        Err(e) => Some(e),
    };
    match (error, written.unfinished.take()) {
        (Some(e), Some(job)) => Some(job.output.abandon(e)),
        (error, _) => error,
    }
}
