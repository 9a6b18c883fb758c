//! What a job did, for `-v` and `--stats-json`: sizes, time, and how the fleet behaved
//! (retries, reassignments, speculative duplicates, each worker's share).

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::compress::dispatch::DispatchStats;
use crate::fleet::WorkerStats;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct WorkerReport {
    pub name: String,
    pub slots: usize,
    #[serde(flatten)]
    pub stats: WorkerStats,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct JobReport {
    pub input: String,
    pub output: String,
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub chunks: u64,
    /// Chunks and input bytes already done by an interrupted run this one resumed.
    pub resumed_chunks: u64,
    pub resumed_bytes: u64,
    #[serde(rename = "wall_seconds", serialize_with = "seconds")]
    pub wall: Duration,
    #[serde(flatten)]
    pub dispatch: DispatchStats,
    pub workers: Vec<WorkerReport>,
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// `--stats-json`: every job of the run.
#[derive(Serialize)]
pub(crate) struct RunReport<'a> {
    pub jobs: &'a [JobReport],
}

impl JobReport {
    /// The `-v` summary: a line for the job and one per worker.
    pub fn summary(&self) -> String {
        let ratio = if self.input_bytes == 0 {
            0.0
        } else {
            100.0 * self.output_bytes as f64 / self.input_bytes as f64
        };
        // A resumed run did only the rest: its speed is what it read, not the whole.
        let done_here = self.input_bytes - self.resumed_bytes.min(self.input_bytes);
        let secs = self.wall.as_secs_f64().max(1e-9);
        let mut s = format!(
            "{} -> {}: {} -> {} bytes ({ratio:.1}%), {} chunks, {:.2}s, {:.1} MB/s",
            self.input,
            self.output,
            self.input_bytes,
            self.output_bytes,
            self.chunks,
            secs,
            done_here as f64 / secs / 1e6
        );
        if self.resumed_chunks > 0 {
            let _ = write!(s, ", resumed after chunk {}", self.resumed_chunks);
        }
        let st = &self.dispatch;
        if st.failed_attempts + st.speculative + st.busy > 0 {
            let _ = write!(
                s,
                "\n  {} failed attempts, {} retries ({} reassigned), {} timeouts, {} wrong answers, {} speculative duplicates ({} won), {} busy answers",
                st.failed_attempts,
                st.retries,
                st.reassignments,
                st.timeouts,
                st.wrong_answers,
                st.speculative,
                st.speculative_wins,
                st.busy
            );
        }
        for w in &self.workers {
            let _ = write!(
                s,
                "\n  worker {} ({} slots): {} chunks, {} bytes in, {} bytes out, {} failures",
                w.name,
                w.slots,
                w.stats.chunks,
                w.stats.bytes_in,
                w.stats.bytes_out,
                w.stats.failures
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> JobReport {
        JobReport {
            input: "a \"b\"\n.tar".into(),
            output: "o.gz".into(),
            input_bytes: 100_000_000,
            output_bytes: 5,
            chunks: 1,
            resumed_chunks: 0,
            resumed_bytes: 0,
            wall: Duration::from_millis(1500),
            dispatch: DispatchStats {
                retries: 3,
                ..Default::default()
            },
            workers: vec![WorkerReport {
                name: "127.0.0.1:7070".into(),
                slots: 2,
                stats: WorkerStats {
                    chunks: 1,
                    bytes_in: 10,
                    bytes_out: 5,
                    failures: 0,
                },
            }],
        }
    }

    #[test]
    fn json_escapes_and_reports_every_worker() {
        let j = serde_json::to_string(&RunReport { jobs: &[report()] }).unwrap();
        assert!(j.starts_with(r#"{"jobs":[{"#), "{j}");
        assert!(j.contains(r#""input":"a \"b\"\n.tar""#), "{j}");
        assert!(j.contains(r#""retries":3"#), "{j}");
        assert!(
            j.contains(r#""workers":[{"name":"127.0.0.1:7070","slots":2,"chunks":1"#),
            "{j}"
        );
        assert!(j.contains(r#""wall_seconds":1.5"#), "{j}");
    }

    #[test]
    fn a_resumed_run_reports_the_speed_of_what_it_did() {
        let mut r = report();
        assert!(r.summary().contains("66.7 MB/s"), "{}", r.summary());
        r.resumed_chunks = 90;
        r.resumed_bytes = 90_000_000;
        assert!(r.summary().contains(" 6.7 MB/s"), "{}", r.summary());
    }
}
