//! The last steps of the compress path: what dispatch hands over, put back in stream
//! order (a reorder buffer the window bounds), and written. Each input's chunks go into
//! its output with its CRC extended chunk by chunk; at its end come the trailer, the
//! rename into place, --rm and its report. An input that fails is named and its output
//! abandoned; the others go on.

use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc::UnboundedReceiver;

use super::direct::DirectWriter;
use super::dispatch::{Compressed, Ready};
use super::input::Input;
use super::output::PointAt;
use super::plan::{Destination, Plan};
use super::pull::SharedFile;
use super::stream::{FileJob, Marker};
use super::window::Window;
use crate::error::Place;
use crate::error::{Error, Severity};
use crate::fleet::segments::Held;
use crate::gzip::{StreamCrc, trailer};
use crate::ui::report::FileReport;
use crate::ui::{Progress, Ui};

/// What the writer did.
#[derive(Default)]
pub(crate) struct Written {
    /// Inputs compressed, in order.
    pub reports: Vec<FileReport>,
    /// Inputs that failed (each named on stderr).
    pub failures: usize,
    /// Inputs skipped as gzip skips them with a warning (exit status 2).
    pub warnings: usize,
    /// The place one past the last item written.
    pub next: u64,
    /// The input being written when the stream ended early, for the caller to abandon
    /// with the reason the run stopped.
    pub unfinished: Option<Box<FileJob>>,
}

/// One input between its start and its end.
struct Open {
    job: Box<FileJob>,
    crc: StreamCrc,
    chunks: u64,
    started: Instant,
}

pub(crate) struct Writer<'a> {
    pub plan: &'a Plan,
    pub ui: &'a Ui,
    pub window: &'a Window,
    pub progress: &'a Progress,
    /// Say each input's summary as it ends (several inputs; one is said with the run's).
    pub say_each: bool,
    /// Inputs in the run, for the progress line's `n/N`.
    pub inputs: usize,
    /// `--direct-output`: how held segments get written.
    pub direct: Option<&'a DirectWriter>,
}

impl Writer<'_> {
    /// Writes what arrives, in stream order, until the stream ends.
    pub fn run(&self, mut results: UnboundedReceiver<Ready>) -> Result<Written, Error> {
        let mut written = Written::default();
        let mut current: Option<Open> = None;
        let mut waiting = BTreeMap::new();
        while let Some(ready) = results.blocking_recv() {
            waiting.insert(ready.seq(), ready);
            while let Some(ready) = waiting.remove(&written.next) {
                match ready {
                    Ready::Chunk(c) => self.chunk(&mut current, c, &mut written)?,
                    Ready::Marker { marker, .. } => {
                        self.marker(&mut current, marker, &mut written)?
                    }
                    Ready::Lost { file, .. } => self.lost(&mut current, &file, &mut written),
                }
                written.next += 1;
                self.window.advance(written.next);
            }
        }
        // Markers still waiting hold outputs that never started: dropped, they
        // abandon themselves.
        written.unfinished = current.map(|open| open.job);
        Ok(written)
    }

    fn chunk(
        &self,
        current: &mut Option<Open>,
        c: Compressed,
        written: &mut Written,
    ) -> Result<(), Error> {
        // The input failed already: its remaining chunks go nowhere.
        let Some(open) = current else {
            return Ok(());
        };
        if let Some(held) = &c.held {
            if let Err(e) = self.segment(open, held) {
                let open = current.take().expect("checked above");
                self.failed(open.job.output.abandon(e), written);
            }
            return Ok(());
        }
        let point = c.window.as_ref().map(|window| PointAt {
            offset: open.crc.len,
            window,
        });
        open.crc.append(c.crc32, c.len);
        open.chunks += 1;
        self.progress.inc(c.len);
        let result = open
            .job
            .output
            .write_chunk(&c.deflate, c.crc32, c.len, open.crc, point);
        match result {
            Ok(()) => Ok(()),
            // Stdout is every input's: cut short, the whole run is over.
            Err(e) if e.is_stdout_write() => Err(e),
            Err(e) => {
                let open = current.take().expect("checked above");
                self.failed(open.job.output.abandon(e), written);
                Ok(())
            }
        }
    }

    /// Direct output: has a held segment written at the end of the output so far,
    /// then writes its fragments, index points and journal entry here.
    fn segment(&self, open: &mut Open, held: &Held) -> Result<(), Error> {
        let (Some(direct), Some(path)) = (self.direct, open.job.plan.direct.as_deref()) else {
            return Err(Error::Fatal(
                "internal error: a held segment without --direct-output".into(),
            ));
        };
        let output = &mut open.job.output;
        let start = output.end();
        let fragments = direct
            .write(held, path, start)
            .map_err(|why| Error::Write {
                output: Place::Path(open.job.plan.destination.to_string().into()),
                source: std::io::Error::other(format!(
                    "segment at chunk {}: {why}",
                    held.request.first_chunk
                )),
            })?;
        let mut at = start;
        let mut windows = held.windows.iter();
        let numbers = held
            .crc32s
            .iter()
            .zip(&held.input_lengths)
            .zip(&held.deflate_lengths);
        for (i, ((&crc, &len), &deflate)) in numbers.enumerate() {
            let index = held.request.first_chunk + i as u64;
            if self
                .plan
                .index
                .as_ref()
                .is_some_and(|p| index.is_multiple_of(p.step))
            {
                let window = match held.request.window_every {
                    0 => &[][..],
                    _ => windows.next().map_or(&[][..], |w| &w[..]),
                };
                output.point(at, open.crc.len, window)?;
            }
            open.crc.append(crc, len);
            open.chunks += 1;
            self.progress.inc(len);
            at += deflate;
        }
        let n = held.crc32s.len() as u64;
        let last = (
            held.crc32s.last().copied().unwrap_or(0),
            held.input_lengths.last().copied().unwrap_or(0),
        );
        output.write_segment(start, at, &fragments, n, open.crc, last)
    }

    fn marker(
        &self,
        current: &mut Option<Open>,
        marker: Marker,
        written: &mut Written,
    ) -> Result<(), Error> {
        match marker {
            Marker::Begin(mut job) => {
                if let Some(warning) = job.plan.warning.take() {
                    self.failed(warning, written);
                }
                // Its place counts the inputs before it, failed ones too.
                let n = written.reports.len() + written.failures + 1;
                let name = job.plan.input.place().to_string();
                self.progress.set_file(name, n, self.inputs);
                self.progress.inc(job.start.offset);
                *current = Some(Open {
                    crc: job.start.crc,
                    chunks: job.start.index,
                    job,
                    started: Instant::now(),
                });
            }
            Marker::End => {
                if let Some(open) = current.take() {
                    match self.finish(open) {
                        Ok(report) => {
                            if self.say_each {
                                self.ui.info(report.line());
                            }
                            written.reports.push(report);
                        }
                        Err(e) if e.is_stdout_write() => return Err(e),
                        Err(e) => self.failed(e, written),
                    }
                }
            }
            // With nothing open the input failed already (a chunk lost, a write that
            // failed): said once is enough.
            Marker::Failed(e) => {
                if let Some(open) = current.take() {
                    self.failed(open.job.output.abandon(e), written);
                }
            }
            Marker::Skipped(e) => self.failed(e, written),
        }
        Ok(())
    }

    /// A chunk of an input no worker could read: the input fails, named, like one that
    /// could not be read to its end; with nothing open (or another input open) it has
    /// failed already and this chunk only kept its place.
    fn lost(&self, current: &mut Option<Open>, file: &Arc<SharedFile>, written: &mut Written) {
        let is_this =
            |open: &Open| matches!(&open.job.plan.shared, Some(f) if Arc::ptr_eq(f, file));
        let Some(open) = current.take_if(|open| is_this(open)) else {
            return;
        };
        let error = Error::Unreadable {
            input: open.job.plan.input.place(),
            reason: file.lost.get().cloned().unwrap_or_default(),
            // A stat, or a HEAD to a store: here, not on the dispatcher's thread.
            changed_here: file.changed_here(),
        };
        self.failed(open.job.output.abandon(error), written);
    }

    fn failed(&self, e: Error, written: &mut Written) {
        self.ui.problem(&e);
        match e.severity() {
            Severity::Error => written.failures += 1,
            Severity::Warning => written.warnings += 1,
            Severity::Note | Severity::Detail => {}
        }
    }

    /// The trailer, the rename into place, --rm: the input is done.
    fn finish(&self, open: Open) -> Result<FileReport, Error> {
        let Open {
            job,
            crc,
            chunks,
            started,
        } = open;
        let FileJob {
            plan,
            output,
            start,
            ..
        } = *job;
        let output_bytes =
            output.finish(&trailer(crc.crc, crc.len), plan.input.metadata(), crc.len)?;
        let mut replaced = false;
        if let (true, Input::File { path, .. }, Destination::File(_)) =
            (self.plan.remove_input, &plan.input, &plan.destination)
        {
            fs::remove_file(path).map_err(|source| Error::Remove {
                path: path.clone(),
                source,
            })?;
            replaced = true;
        }
        Ok(FileReport {
            input: plan.input.place().to_string(),
            output: plan.destination.to_string(),
            input_bytes: crc.len,
            output_bytes,
            chunks,
            resumed_chunks: start.index,
            resumed_bytes: start.offset,
            wall: started.elapsed(),
            replaced,
        })
    }
}
