//! The progress line on stderr: bytes, throughput and ETA (or a spinner for stdin),
//! and a status such as "waiting for workers". Only on a terminal, only without -q,
//! and only once a job has run for a second, so short jobs and logs stay clean.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const SHOW_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    /// A progress line for a job of `total` input bytes (None: unknown, as stdin).
    /// Create it through `Ui::progress`, so messages are printed around it.
    pub(super) fn new(total: Option<u64>, quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::hidden())
                .with_style(
                    ProgressStyle::with_template(
                        "{bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()).with_style(
                ProgressStyle::with_template("{spinner} {binary_bytes} {binary_bytes_per_sec} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        Progress {
            bar: Some(bar),
            started: Instant::now(),
        }
    }

    pub fn hidden() -> Self {
        Progress {
            bar: None,
            started: Instant::now(),
        }
    }

    pub(super) fn bar(&self) -> Option<&ProgressBar> {
        self.bar.as_ref()
    }

    pub fn inc(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
            self.show_if_long(bar);
        }
    }

    fn show_if_long(&self, bar: &ProgressBar) {
        if bar.is_hidden() && self.started.elapsed() >= SHOW_AFTER {
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        }
    }

    /// A status after the numbers; empty clears it.
    pub fn set_status(&self, status: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(status);
            self.show_if_long(bar);
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
