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
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::runtime::Runtime;

pub(crate) use chunker::Chunk;
use job::JobContext;
pub(crate) use plan::JobParams;
use plan::{FleetPlan, Plan};
use stream::Inputs;
use walk::Named;

use crate::cli::CompressArgs;
use crate::error::{Error, Place};
use crate::fleet::Fleet;
use crate::signals;
use crate::ui::Ui;
use crate::ui::report::RunReport;

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
    let (named, unreadable) = walk::expand(&plan.inputs, plan.recursive);
    let mut failures = unreadable.len();
    unreadable.into_iter().for_each(|e| ui.error(e));
    signals::install();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Spawn {
            what: "the async runtime".into(),
            source,
        })?;
    let mut fleet = connect(&plan, &runtime, ui)?;
    let progress = ui.progress(total_size(&named));
    let job = Arc::new(JobParams {
        id: job_id(),
        encoding: plan.encoding,
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
    };
    let finished = job::run(ctx, inputs, job, &progress);
    ui.progress_done(&progress);
    let finished = finished?;
    failures += finished.written.failures;
    let warnings = finished.written.warnings;
    if let Some(e) = finished.error {
        if e.is_broken_pipe() {
            return Err(e);
        }
        ui.error(e);
        failures += 1;
    }
    let report = RunReport {
        jobs: finished.written.reports,
        failed: failures,
        wall: started.elapsed(),
        dispatch: finished.stats,
        workers: fleet.reports(),
    };
    if !report.jobs.is_empty() {
        ui.info(report.summary());
    }
    write_stats(&plan, &report)?;
    Ok(Outcome {
        failures,
        warnings,
        interrupted: signals::interrupted(),
    })
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
    let block = plan.encoding.block;
    match &plan.fleet {
        FleetPlan::Local { threads } => Fleet::local(*threads, block),
        FleetPlan::Remote {
            discovery,
            credentials,
        } => {
            let fleet = runtime.block_on(Fleet::connect(
                discovery.clone(),
                block,
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
