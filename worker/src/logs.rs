//! Log lines of both commands: `tracing` events written to stderr as text or as one
//! JSON object a line (`--log-format`), filtered by `RUST_LOG`.
//!
//! Logs are for operators and log collectors; people at a terminal have the
//! coordinator's gzip-style messages and progress bar, on the same stderr. So without
//! `RUST_LOG`, only our own warnings are logged, unless `--log-format` was given:
//! asking for a format is asking for logs, and then the info lines come too (a
//! worker's start, a job's start and end with its totals), and the libraries'
//! warnings. Nothing that could carry a secret (the token,
//! object store credentials) is ever a field of an event.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line per event: time, level, message, fields.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Whether `--log-format` was given: then stderr is for log lines only.
static STRUCTURED: AtomicBool = AtomicBool::new(false);

/// How important a [`say`] line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    Info,
    Warning,
    Error,
}

/// A line a command has always written for people (a worker draining, a fatal
/// error): on stderr as `program: line`, or as a log event once `--log-format` was
/// given, so that whatever reads stderr then sees nothing but log lines.
pub fn say(program: &str, how: Said, line: &str) {
    if !STRUCTURED.load(Ordering::Relaxed) {
        eprintln!("{program}: {line}");
        return;
    }
    match how {
        Said::Info => tracing::info!("{line}"),
        Said::Warning => tracing::warn!("{line}"),
        Said::Error => tracing::error!("{line}"),
    }
}

/// The filter when `RUST_LOG` is not set. Without a format asked for, only our own
/// warnings: the libraries underneath (h2, hyper, object_store) were never heard from
/// on a terminal, and are not now.
fn default_filter(format_given: bool) -> &'static str {
    match format_given {
        true => "warn,gzfleet=info,gzfleet_coordinator=info,gzfleet_worker=info",
        false => "off,gzfleet=warn,gzfleet_coordinator=warn,gzfleet_worker=warn",
    }
}

/// `RUST_LOG` could not be read as a filter; the default one was used instead.
#[derive(Debug, thiserror::Error)]
#[error("RUST_LOG={spec:?} is not a valid filter ({reason}); ignoring it")]
pub struct FilterIgnored {
    spec: String,
    reason: String,
}

/// Whether `--log-format` was given, so that a command's own lines for people (the
/// coordinator's gzip-style messages) go out as log events too.
pub fn structured() -> bool {
    STRUCTURED.load(Ordering::Relaxed)
}

/// Sends this process's log events to `writer` (stderr, or a writer that draws around
/// a progress bar). Call once, early; a second call changes nothing.
///
/// Logging is set up even when `RUST_LOG` is unusable; that is the error, for the
/// caller to say as it says its other warnings (after this returns, so that with
/// `--log-format` it is a log line like the rest, not plain text among them).
pub fn init<W>(format: Option<LogFormat>, writer: W) -> Result<(), FilterIgnored>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    STRUCTURED.store(format.is_some(), Ordering::Relaxed);
    let fallback = || EnvFilter::new(default_filter(format.is_some()));
    let mut ignored = None;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            ignored = Some(FilterIgnored {
                spec,
                reason: e.to_string(),
            });
            fallback()
        }),
        _ => fallback(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false);
    let _ = match format.unwrap_or(LogFormat::Text) {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    ignored.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_lines_come_only_when_logs_are_asked_for() {
        use tracing::level_filters::LevelFilter;
        let quiet = EnvFilter::new(default_filter(false));
        let asked = EnvFilter::new(default_filter(true));
        assert_eq!(quiet.max_level_hint(), Some(LevelFilter::WARN));
        assert_eq!(asked.max_level_hint(), Some(LevelFilter::INFO));
        // Libraries underneath: silent unless logs were asked for, then warnings only.
        assert!(default_filter(false).starts_with("off,"));
        assert!(default_filter(true).starts_with("warn,") && !default_filter(true).contains("h2"));
    }
}
