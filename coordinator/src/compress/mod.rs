//! `gzfleet compress`, as a pipeline whose steps are the modules here:
//!
//! ```text
//! plan ─▶ walk ─▶ input ─▶ chunker ─▶ window ─▶ dispatch ─▶ check ─▶ order ─▶ output
//!  args   -r:     open,    cut into   bound     which       CRC,     reorder,  partial
//!  → Plan files   refuse   chunks +   items     worker,     length,  stream    file,
//!         below   what     32 KiB     held      retries,    framing, CRC,      trailer,
//!         dirs    gzip     dictionary           speculation --verify per file  rename
//!                 would                                                        │
//!                                                  journal / resume: the durable point
//! ```
//!
//! Every input of a run goes through one [`stream`] of items (each input's start, its
//! chunks, its end), so many small files keep a fleet as busy as one large file, under
//! one memory bound. [`job`] wires the steps together for the run.

pub(crate) mod check;
pub(crate) mod chunker;
pub(crate) mod dispatch;
pub(crate) mod encoding;
pub(crate) mod index_out;
pub(crate) mod input;
pub(crate) mod job;
pub(crate) mod journal;
pub(crate) mod objects;
pub(crate) mod order;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod pull;
pub(crate) mod resume;
pub(crate) mod stream;
pub(crate) mod walk;
pub(crate) mod window;

use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gzfleet_worker::exposition::Exposition;

use tokio::runtime::Runtime;

pub(crate) use chunker::Chunk;
use job::{Finished, JobContext};
pub(crate) use plan::JobParams;
use plan::{FleetPlan, Plan};
use stream::Inputs;
use walk::Named;

use crate::cli::CompressArgs;
use crate::error::{Error, Place};
use crate::fleet::{Fleet, Needs};
use crate::signals;
use crate::telemetry::Telemetry;
use crate::ui::Ui;
use crate::ui::report::{FileReport, RunReport};

/// How a run over its inputs ended.
pub(crate) struct Outcome {
    /// Inputs that failed.
    pub failures: usize,
    /// Inputs skipped with a warning, as gzip's exit status 2 counts them.
    pub warnings: usize,
    /// Stopped by SIGINT/SIGTERM (exit status 130).
    pub interrupted: bool,
}

pub(crate) fn run(args: &CompressArgs, ui: &Ui) -> Result<Outcome, Error> {
    let started = Instant::now();
    let plan = Arc::new(Plan::new(args)?);
    // Bound before anything else: a taken port is said before any work is done.
    let (telemetry, exposition) = match args.metrics {
        None => (Telemetry::default(), None),
        Some(addr) => {
            let (telemetry, registry) = Telemetry::enabled();
            (telemetry, Some(Exposition::serve(addr, registry)?))
        }
    };
    let (named, unreadable) = walk::expand(&plan.inputs, plan.recursive);
    let unreadable_count = unreadable.len();
    unreadable.into_iter().for_each(|e| ui.error(e));
    signals::install();
    let runtime = runtime()?;
    let mut fleet = connect(&plan, &runtime, ui)?;
    let planned = chunks_planned(&named, plan.encoding.block);
    telemetry.publish(|s| s.chunks_planned = planned);
    log_start(&plan, &fleet, named.len(), planned, exposition.as_ref());
    let progress = ui.progress(total_size(&named));
    let job = Arc::new(JobParams {
        id: job_id(),
        encoding: plan.encoding,
        index_step: plan.index.as_ref().map(|i| i.step),
    });
    let inputs = Inputs {
        plan: Arc::clone(&plan),
        named,
        chunk_crcs: fleet.is_remote(),
        ui: ui.clone(),
    };
    let ctx = JobContext {
        runtime: &runtime,
        fleet: &mut fleet,
        config: &plan.dispatch,
        ui,
        telemetry: &telemetry,
    };
    let finished = job::run(ctx, inputs, job, &progress);
    ui.progress_done(&progress);
    let ended = Ended {
        started,
        failures: unreadable_count,
        plan: &plan,
        fleet: &fleet,
        ui,
    };
    let outcome = ended.report(finished?)?;
    if let Some(exposition) = &exposition {
        telemetry.publish(|s| {
            s.chunks_planned = outcome.chunks;
            s.finished = true;
        });
        linger(exposition, args.metrics_linger, ui);
    }
    Ok(outcome.outcome)
}

/// The runtime the dispatcher and the remote links run on.
fn runtime() -> Result<Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Spawn {
            what: "the async runtime".into(),
            source,
        })
}

/// The job-start log line: what the run is about to do, and with whom.
fn log_start(
    plan: &Plan,
    fleet: &Fleet,
    inputs: usize,
    planned: u64,
    exposition: Option<&Exposition>,
) {
    tracing::info!(
        inputs,
        level = plan.encoding.level,
        block = plan.encoding.block,
        independent = plan.encoding.independent,
        mode = match (&plan.fleet, plan.pull) {
            (FleetPlan::Local { .. }, _) => "local",
            (FleetPlan::Remote { .. }, false) => "push",
            (FleetPlan::Remote { .. }, true) => "pull",
        },
        workers = fleet.workers().count(),
        workers_up = fleet.workers().filter(|(_, w)| w.is_up()).count(),
        chunks_planned = planned,
        metrics = %exposition.map_or("off".into(), |e| e.local_addr().to_string()),
        "job started"
    );
}

/// A run over, to be told: its failures counted, its summary said and logged, its
/// statistics written.
struct Ended<'a> {
    started: Instant,
    /// Inputs that failed before the run (unreadable names).
    failures: usize,
    plan: &'a Plan,
    fleet: &'a Fleet,
    ui: &'a Ui,
}

/// What the command returns, and the chunks written (for the final metrics).
struct Told {
    outcome: Outcome,
    chunks: u64,
}

impl Ended<'_> {
    fn report(self, finished: Finished) -> Result<Told, Error> {
        let mut failures = self.failures + finished.written.failures;
        let warnings = finished.written.warnings;
        if let Some(e) = finished.error {
            if e.is_broken_pipe() {
                return Err(e);
            }
            self.ui.error(e);
            failures += 1;
        }
        let report = RunReport {
            jobs: finished.written.reports,
            failed: failures,
            wall: self.started.elapsed(),
            dispatch: finished.stats,
            workers: self.fleet.reports(),
        };
        if !report.jobs.is_empty() {
            self.ui.info(report.summary());
        }
        log_end(&report);
        write_stats(self.plan, &report)?;
        Ok(Told {
            outcome: Outcome {
                failures,
                warnings,
                // Taken before lingering: an interrupt then only cuts the lingering
                // short.
                interrupted: signals::interrupted(),
            },
            chunks: report.jobs.iter().map(|j| j.chunks).sum(),
        })
    }
}

/// Chunks the run's files make, as far as their sizes are known now (stdin and pipes
/// count for none): what a dashboard shows progress against.
fn chunks_planned(named: &[Named], block: u64) -> u64 {
    named
        .iter()
        .filter_map(|n| fs::metadata(&n.path).ok().filter(|m| m.is_file()))
        .map(|m| m.len().div_ceil(block))
        .sum()
}

/// The job-end log line: the run's totals.
fn log_end(report: &RunReport) {
    let sum = |of: fn(&FileReport) -> u64| report.jobs.iter().map(of).sum::<u64>();
    tracing::info!(
        inputs = report.jobs.len(),
        failed = report.failed,
        input_bytes = sum(|j| j.input_bytes),
        output_bytes = sum(|j| j.output_bytes),
        chunks = sum(|j| j.chunks),
        resumed_chunks = sum(|j| j.resumed_chunks),
        seconds = report.wall.as_secs_f64(),
        retries = report.dispatch.retries,
        failed_attempts = report.dispatch.failed_attempts,
        speculative = report.dispatch.speculative,
        timeouts = report.dispatch.timeouts,
        wrong_answers = report.dispatch.wrong_answers,
        workers = report.workers.len(),
        "job finished"
    );
}

/// `--metrics-linger`: the run is over, but a scraper polling every 15 or 60 s has
/// likely not seen its last numbers (or any, for a short run); keep answering for that
/// long. An interrupt cuts it short.
fn linger(exposition: &Exposition, how_long: Duration, ui: &Ui) {
    if how_long.is_zero() {
        return;
    }
    let url = format!("http://{}/metrics", exposition.local_addr());
    ui.info(format!(
        "serving the final metrics at {url} for {:.0}s (--metrics-linger)",
        how_long.as_secs_f64()
    ));
    tracing::info!(%url, seconds = how_long.as_secs_f64(), "serving the final metrics");
    let until = Instant::now() + how_long;
    while !signals::interrupted() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// Bytes the run will read, when known (not for stdin or pipes).
fn total_size(named: &[Named]) -> Option<u64> {
    named
        .iter()
        .map(|n| match fs::metadata(&n.path) {
            Ok(m) if m.is_file() => Some(m.len()),
            Ok(_) => None,
            // It will fail, named, on its turn; it adds nothing.
            Err(_) => Some(0),
        })
        .sum()
}

/// The embedded pool, or the workers the plan names (saying which are not up).
fn connect(plan: &Plan, runtime: &Runtime, ui: &Ui) -> Result<Fleet, Error> {
    let needs = Needs {
        block: plan.encoding.block,
        engine: plan.encoding.engine,
        window: plan.pull && plan.index.is_some() && !plan.encoding.independent,
    };
    connect_fleet(&plan.fleet, needs, runtime, ui)
}

/// The fleet `fleet` plans, for chunks that need `needs`; the command's and the
/// library's `Writer`'s.
pub(crate) fn connect_fleet(
    fleet: &FleetPlan,
    needs: Needs,
    runtime: &Runtime,
    ui: &Ui,
) -> Result<Fleet, Error> {
    match fleet {
        FleetPlan::Local { threads } => Fleet::local(*threads, needs),
        FleetPlan::Remote {
            discovery,
            credentials,
        } => {
            let fleet = runtime.block_on(Fleet::connect(
                discovery.clone(),
                needs,
                (**credentials).clone(),
            ))?;
            for (_, w) in fleet.workers() {
                match w.is_up() {
                    true => ui.info(format!("worker {}: up ({} slots)", w.name(), w.slots())),
                    false => ui.notice(format!("worker {}: {}", w.name(), w.status())),
                }
            }
            Ok(fleet)
        }
    }
}

fn write_stats(plan: &Plan, report: &RunReport) -> Result<(), Error> {
    let Some(path) = &plan.stats_json else {
        return Ok(());
    };
    let write_error = |source| Error::Write {
        output: Place::Path(path.clone()),
        source,
    };
    let mut json = serde_json::to_vec(report).map_err(|e| write_error(std::io::Error::other(e)))?;
    json.push(b'\n');
    fs::write(path, json).map_err(write_error)
}

/// Names the run in workers' logs: this process and the time it started.
fn job_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}
