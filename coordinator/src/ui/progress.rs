//! The progress line on stderr: which input (`n/N` with several), a bar as wide as the
//! terminal leaves room for, bytes, throughput and ETA (or a spinner for stdin), and in
//! cluster mode the workers up and the retries so far, then a status such as "waiting
//! for workers". Only on a terminal, only without -q, and only once a job has run for
//! a second, so short jobs and logs stay clean.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const SHOW_AFTER: Duration = Duration::from_secs(1);

/// Longest input name shown: the bar must fit a terminal line.
const NAME_WIDTH: usize = 32;

/// What the line says besides the numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Label {
    /// The input being written, its place (from 1) and how many inputs the run has.
    file: Option<(String, usize, usize)>,
    /// Workers up, workers known, and retries so far: cluster mode only.
    fleet: Option<(usize, usize, u64)>,
    status: String,
}

impl Label {
    /// Before the bar: the input, then its place when there are several.
    pub fn prefix(&self) -> String {
        match &self.file {
            None => String::new(),
            Some((name, _, 1)) => format!("{} ", shorten(name)),
            Some((name, n, of)) => format!("{} {n}/{of} ", shorten(name)),
        }
    }

    /// After the numbers: the fleet, then the status.
    pub fn message(&self) -> String {
        let fleet = self.fleet.map(|(up, known, retries)| match retries {
            0 => format!("workers {up}/{known} up"),
            1 => format!("workers {up}/{known} up, 1 retry"),
            n => format!("workers {up}/{known} up, {n} retries"),
        });
        let status = (!self.status.is_empty()).then_some(self.status.as_str());
        [fleet.as_deref(), status]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A long name keeps its end, where the file name is.
fn shorten(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() > NAME_WIDTH {
        true => std::iter::once('…')
            .chain(chars[chars.len() - (NAME_WIDTH - 1)..].iter().copied())
            .collect(),
        false => name.to_string(),
    }
}

#[derive(Clone)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    label: Arc<Mutex<Label>>,
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
                        "{prefix}{wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()).with_style(
                ProgressStyle::with_template(
                    "{prefix}{spinner} {binary_bytes} {binary_bytes_per_sec} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        Progress {
            bar: Some(bar),
            ..Progress::hidden()
        }
    }

    pub fn hidden() -> Self {
        Progress {
            bar: None,
            label: Arc::default(),
            started: Instant::now(),
        }
    }

    pub(super) fn bar(&self) -> Option<&ProgressBar> {
        self.bar.as_ref()
    }

    /// What the line says besides the numbers (hidden lines keep it too).
    #[cfg(test)]
    pub fn label(&self) -> Label {
        self.label.lock().unwrap_or_else(|e| e.into_inner()).clone()
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

    /// The input now being written: the `n`th (from 1) of `of`.
    pub fn set_file(&self, name: String, n: usize, of: usize) {
        self.relabel(|l| l.file = Some((name, n, of)));
    }

    /// The fleet as it stands: workers up, workers known, retries so far.
    pub fn set_fleet(&self, up: usize, known: usize, retries: u64) {
        self.relabel(|l| l.fleet = Some((up, known, retries)));
    }

    /// A status after the numbers; empty clears it.
    pub fn set_status(&self, status: String) {
        self.relabel(|l| l.status = status);
    }

    fn relabel(&self, change: impl FnOnce(&mut Label)) {
        let label = {
            let mut label = self.label.lock().unwrap_or_else(|e| e.into_inner());
            let before = label.clone();
            change(&mut label);
            if *label == before {
                return;
            }
            label.clone()
        };
        if let Some(bar) = &self.bar {
            bar.set_prefix(label.prefix());
            bar.set_message(label.message());
            self.show_if_long(bar);
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_input_and_its_place_among_several() {
        let p = Progress::hidden();
        assert_eq!(p.label().prefix(), "");
        p.set_file("logs/app.log".into(), 1, 1);
        assert_eq!(p.label().prefix(), "logs/app.log ");
        p.set_file("b.tar".into(), 2, 3);
        assert_eq!(p.label().prefix(), "b.tar 2/3 ");
        let long = format!("{}/the-end.tar", "d".repeat(60));
        p.set_file(long, 1, 1);
        let shown = p.label().prefix();
        assert_eq!(shown.chars().count(), NAME_WIDTH + 1, "{shown}");
        assert!(shown.starts_with('…') && shown.ends_with("/the-end.tar "));
    }

    #[test]
    fn in_cluster_mode_it_says_workers_up_and_retries_then_the_status() {
        let p = Progress::hidden();
        assert_eq!(p.label().message(), "");
        p.set_status("waiting for workers (30s left)".into());
        assert_eq!(p.label().message(), "waiting for workers (30s left)");
        p.set_fleet(1, 2, 1);
        assert_eq!(
            p.label().message(),
            "workers 1/2 up, 1 retry; waiting for workers (30s left)"
        );
        p.set_status(String::new());
        p.set_fleet(2, 2, 5);
        assert_eq!(p.label().message(), "workers 2/2 up, 5 retries");
        p.set_fleet(3, 3, 0);
        assert_eq!(p.label().message(), "workers 3/3 up");
    }
}
