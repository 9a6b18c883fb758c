//! `gzfleet compress`, as a pipeline whose steps are the modules here:
//!
//! ```text
//! plan ─▶ input ─▶ chunker ─▶ window ─▶ dispatch ─▶ check ─▶ order ─▶ output
//!  args    open,    cut into   bound     which       CRC,     reorder,  partial file,
//!  → Plan  refuse   chunks +   chunks    worker,     length,  stream    trailer,
//!          what     32 KiB     held      retries,    framing, CRC       rename
//!          gzip     dictionary           speculation --verify           │
//!          would                                                        ▼
//!                                                  journal / resume: the durable point
//! ```
//!
//! [`job`] wires one input's steps together; this module runs every input of the
//! command through them and finishes each file (trailer, rename, --rm, report).

pub(crate) mod check;
pub(crate) mod chunker;
pub(crate) mod dispatch;
pub(crate) mod input;
pub(crate) mod job;
pub(crate) mod journal;
pub(crate) mod order;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod resume;
pub(crate) mod window;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::runtime::Runtime;

pub(crate) use chunker::Chunk;
use input::Input;
use job::{Finished, JobContext};
pub(crate) use plan::JobParams;
use plan::{Destination, FleetPlan, JobPlan, Plan};
use resume::Start;

use crate::cli::CompressArgs;
use crate::error::{Error, Place};
use crate::fleet::Fleet;
use crate::gzip::trailer;
use crate::signals;
use crate::ui::Ui;
use crate::ui::report::{JobReport, RunReport};

/// How a run over its inputs ended.
pub(crate) struct Outcome {
    /// Inputs that failed.
    pub failures: usize,
    /// Stopped by SIGINT/SIGTERM (exit status 130).
    pub interrupted: bool,
}

pub(crate) fn run(args: &CompressArgs, ui: &Ui) -> Result<Outcome, Error> {
    let plan = Plan::new(args)?;
    signals::install();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Spawn {
            what: "the async runtime".into(),
            source,
        })?;
    let fleet = connect(&plan, &runtime, ui)?;
    let mut session = Session {
        plan: &plan,
        runtime,
        fleet,
        ui,
    };
    let mut reports = Vec::new();
    let mut failures = 0;
    for name in &plan.inputs {
        if signals::interrupted() {
            break;
        }
        session.fleet.reset_stats();
        match session.compress(name) {
            Ok(report) => {
                ui.info(report.summary());
                reports.push(report);
            }
            // The reader of our output is gone: nothing more can be delivered.
            Err(e) if e.is_broken_pipe() => return Err(e),
            Err(e) => {
                ui.error(e);
                failures += 1;
            }
        }
    }
    write_stats(&plan, &reports)?;
    Ok(Outcome {
        failures,
        interrupted: signals::interrupted(),
    })
}

/// The embedded pool, or the workers the plan names (saying which are not up).
fn connect(plan: &Plan, runtime: &Runtime, ui: &Ui) -> Result<Fleet, Error> {
    let block = plan.encoding.block;
    match &plan.fleet {
        FleetPlan::Local { threads } => Fleet::local(*threads, block),
        FleetPlan::Remote(discovery) => {
            let fleet = runtime.block_on(Fleet::connect(discovery.clone(), block))?;
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

fn write_stats(plan: &Plan, reports: &[JobReport]) -> Result<(), Error> {
    let Some(path) = &plan.stats_json else {
        return Ok(());
    };
    let write_error = |source| Error::Write {
        output: Place::Path(path.clone()),
        source,
    };
    let mut json = serde_json::to_vec(&RunReport { jobs: reports })
        .map_err(|e| write_error(std::io::Error::other(e)))?;
    json.push(b'\n');
    fs::write(path, json).map_err(write_error)
}

/// What every job of one command shares.
struct Session<'a> {
    plan: &'a Plan,
    runtime: Runtime,
    fleet: Fleet,
    ui: &'a Ui,
}

impl Session<'_> {
    /// One input through the whole pipeline.
    fn compress(&mut self, name: &Path) -> Result<JobReport, Error> {
        let started = Instant::now();
        let mut job = self.plan.job(name)?;
        let (mut output, start) = resume::prepare(self.plan, &job, self.ui)?;
        let reader = match job.input.reader_at(start.offset) {
            Ok(r) => r,
            Err(e) => return Err(output.abandon(e)),
        };
        let params = Arc::new(JobParams {
            id: job_id(),
            encoding: self.plan.encoding,
        });
        let progress = self.ui.progress(job.input.size());
        progress.inc(start.offset);
        let ctx = JobContext {
            runtime: &self.runtime,
            fleet: &mut self.fleet,
            config: &self.plan.dispatch,
            ui: self.ui,
        };
        let finished = job::run(ctx, params, reader, start.clone(), &mut output, &progress);
        self.ui.progress_done(&progress);
        let finished = match finished {
            Ok(f) => f,
            Err(e) => return Err(output.abandon(e)),
        };
        let trailer = trailer(finished.crc.crc, finished.crc.len);
        let output_bytes = output.finish(&trailer, job.input.metadata())?;
        self.remove_input(&job)?;
        Ok(self.report(&job, &start, finished, output_bytes, started))
    }

    /// --rm, once the output is complete.
    fn remove_input(&self, job: &JobPlan) -> Result<(), Error> {
        match (&job.input, &job.destination) {
            (Input::File { path, .. }, Destination::File(_)) if self.plan.remove_input => {
                fs::remove_file(path).map_err(|source| Error::Remove {
                    path: path.clone(),
                    source,
                })
            }
            _ => Ok(()),
        }
    }

    fn report(
        &self,
        job: &JobPlan,
        start: &Start,
        finished: Finished,
        output_bytes: u64,
        started: Instant,
    ) -> JobReport {
        JobReport {
            input: job.input.place().to_string(),
            output: match &job.destination {
                Destination::Stdout => Place::Stdout.to_string(),
                Destination::File(p) => p.display().to_string(),
            },
            input_bytes: finished.crc.len,
            output_bytes,
            chunks: finished.chunks,
            resumed_chunks: start.index,
            resumed_bytes: start.offset,
            wall: started.elapsed(),
            dispatch: finished.stats,
            workers: self.fleet.reports(),
        }
    }
}

/// Names the job in workers' logs: this process and the time it started.
fn job_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}
