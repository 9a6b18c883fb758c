//! What users see: every line gzfleet writes on stderr goes through [`Ui`], the
//! [`progress`] line, and the per-job [`report`] (`-v` summary and `--stats-json`).
//!
//! One place prints so that `-q` and `-v` mean the same everywhere, and so that a line
//! printed while a progress bar is drawn suspends the bar first instead of leaving a
//! stale copy of it behind.

pub(crate) mod progress;
pub(crate) mod report;

use std::fmt::Display;
use std::sync::{Arc, Mutex};

use indicatif::ProgressBar;
use tracing::Level;

pub(crate) use progress::Progress;

/// How much to say: gzip's `-q` and `-v`, with pigz's second `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verbosity {
    pub quiet: bool,
    pub verbose: u8,
}

/// The one place that prints user-facing lines. Cheap to clone; clones share the bar.
#[derive(Clone)]
pub(crate) struct Ui {
    verbosity: Verbosity,
    /// The progress bar being drawn, if any: lines are printed around it.
    bar: Arc<Mutex<Option<ProgressBar>>>,
    /// Tests read what would have been printed.
    #[cfg(test)]
    captured: Arc<Mutex<Vec<String>>>,
}

impl Ui {
    pub fn new(verbosity: Verbosity) -> Ui {
        Ui {
            verbosity,
            bar: Arc::new(Mutex::new(None)),
            #[cfg(test)]
            captured: Arc::default(),
        }
    }

    /// The lines printed so far (tests only).
    #[cfg(test)]
    pub fn captured(&self) -> Vec<String> {
        self.captured.lock().unwrap().clone()
    }

    /// Something failed: always said, whatever -q.
    pub fn error(&self, line: impl Display) {
        self.print(Level::ERROR, line);
    }

    /// Something failed, or was skipped: said unless -q for what gzip counts as a
    /// warning (exit status 2), always for an error.
    pub fn problem(&self, e: &crate::error::Error) {
        match e.severity() {
            crate::error::Severity::Error => self.error(e),
            crate::error::Severity::Detail => self.info(e),
            _ => self.warn(e),
        }
    }

    /// Something is wrong but the work went on (trailing garbage, a skipped input).
    pub fn warn(&self, line: impl Display) {
        if !self.verbosity.quiet {
            self.print(Level::WARN, line);
        }
    }

    /// An event worth a line at the default verbosity: a worker lost or back.
    pub fn notice(&self, line: impl Display) {
        if !self.verbosity.quiet {
            self.print(Level::INFO, line);
        }
    }

    /// `-v`: summaries, the fleet at start, resumption.
    pub fn info(&self, line: impl Display) {
        if self.verbosity.verbose >= 1 && !self.verbosity.quiet {
            self.print(Level::INFO, line);
        }
    }

    /// `-vv`: every retry, duplicate and worker change.
    pub fn detail(&self, line: impl Display) {
        if self.verbosity.verbose >= 2 && !self.verbosity.quiet {
            self.print(Level::INFO, line);
        }
    }

    /// A progress line for one job of `total` input bytes (None: unknown, as stdin),
    /// drawn only on a terminal and without -q.
    pub fn progress(&self, total: Option<u64>) -> Progress {
        let progress = Progress::new(total, self.verbosity.quiet);
        *self.lock() = progress.bar().cloned();
        progress
    }

    /// Stops printing around a bar (the job it belonged to ended).
    pub fn progress_done(&self, progress: &Progress) {
        progress.finish();
        self.lock().take();
    }

    /// Prints `line` as gzip would, or, once `--log-format` was given, as a log event
    /// of `level` with the same message: then stderr belongs to the log collector,
    /// which cannot parse a plain line among the JSON ones. (The event's writer, like
    /// this, draws around the bar.) The gates of -q and -v apply either way.
    fn print(&self, level: Level, line: impl Display) {
        if gzfleet_worker::logs::structured() {
            match level {
                Level::ERROR => tracing::error!("{line}"),
                Level::WARN => tracing::warn!("{line}"),
                _ => tracing::info!("{line}"),
            }
            return;
        }
        let line = format!("gzfleet: {line}");
        #[cfg(test)]
        self.captured.lock().unwrap().push(line.clone());
        match self.lock().as_ref() {
            Some(bar) if !bar.is_hidden() => bar.suspend(|| eprintln!("{line}")),
            _ => eprintln!("{line}"),
        }
    }

    /// Where log lines go: stderr like every other line, around the bar if one is drawn.
    pub fn log_writer(&self) -> LogWriter {
        LogWriter(self.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Makes one [`LogLine`] per log event (see [`Ui::log_writer`]).
pub(crate) struct LogWriter(Ui);

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'w self) -> LogLine {
        LogLine {
            ui: self.0.clone(),
            text: Vec::new(),
        }
    }
}

/// One log event, written whole when dropped: a line cut by a redraw of the bar
/// would be a line no log collector can parse.
pub(crate) struct LogLine {
    ui: Ui,
    text: Vec<u8>,
}

impl std::io::Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        use std::io::Write as _;
        let write = || {
            let _ = std::io::stderr().lock().write_all(&self.text);
        };
        match self.ui.lock().as_ref() {
            Some(bar) if !bar.is_hidden() => bar.suspend(write),
            _ => write(),
        }
    }
}

/// `-L`: the license, on stdout as gzip prints it.
pub(crate) fn license() {
    println!(
        "gzfleet {}\nLicensed under the MIT license or the Apache License 2.0, at your option.\n\
         This is free software: you are free to change and redistribute it.\n\
         There is NO WARRANTY, to the extent permitted by law.",
        env!("CARGO_PKG_VERSION")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say_everything(ui: &Ui) -> Vec<String> {
        ui.error("e");
        ui.warn("w");
        ui.notice("n");
        ui.info("i");
        ui.detail("d");
        ui.captured()
    }

    #[test]
    fn each_level_has_its_gate() {
        let at = |quiet, verbose| say_everything(&Ui::new(Verbosity { quiet, verbose }));
        let lines = |v: &[&str]| {
            v.iter()
                .map(|l| format!("gzfleet: {l}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(at(true, 2), lines(&["e"]), "-q keeps only errors");
        assert_eq!(at(false, 0), lines(&["e", "w", "n"]));
        assert_eq!(at(false, 1), lines(&["e", "w", "n", "i"]));
        assert_eq!(at(false, 2), lines(&["e", "w", "n", "i", "d"]));
    }
}
