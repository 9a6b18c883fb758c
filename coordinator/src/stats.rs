//! What a job did, for `-v` and `--stats-json`: sizes, time, and how the fleet
//! behaved (retries, reassignments, speculative duplicates, each worker's share).

use std::fmt::Write as _;
use std::time::Duration;

use crate::fleet::MemberStats;

/// Counted by the scheduler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchedulerStats {
    /// Attempts that failed, for any reason.
    pub failed_attempts: u64,
    /// Chunks sent again after a failed attempt.
    pub retries: u64,
    /// Retries that went to a different worker than the one that failed.
    pub reassignments: u64,
    /// Duplicates sent for late head-of-line chunks, and how many of them won.
    pub speculative: u64,
    pub speculative_wins: u64,
    pub timeouts: u64,
    pub wrong_answers: u64,
}

#[derive(Debug, Clone)]
pub struct WorkerReport {
    pub name: String,
    pub slots: usize,
    pub stats: MemberStats,
}

#[derive(Debug, Clone)]
pub struct JobReport {
    pub input: String,
    pub output: String,
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub chunks: u64,
    pub wall: Duration,
    /// Chunks already done by an interrupted run this one resumed.
    pub resumed_chunks: u64,
    pub scheduler: SchedulerStats,
    pub workers: Vec<WorkerReport>,
}

impl JobReport {
    /// The `-v` summary: a line for the job and one per worker.
    pub fn summary(&self) -> String {
        let ratio = if self.input_bytes == 0 {
            0.0
        } else {
            100.0 * self.output_bytes as f64 / self.input_bytes as f64
        };
        let secs = self.wall.as_secs_f64().max(1e-9);
        let mut s = format!(
            "{} -> {}: {} -> {} bytes ({ratio:.1}%), {} chunks, {:.2}s, {:.1} MB/s",
            self.input,
            self.output,
            self.input_bytes,
            self.output_bytes,
            self.chunks,
            secs,
            self.input_bytes as f64 / secs / 1e6
        );
        if self.resumed_chunks > 0 {
            let _ = write!(s, ", resumed after chunk {}", self.resumed_chunks);
        }
        let st = &self.scheduler;
        if st.failed_attempts + st.speculative > 0 {
            let _ = write!(
                s,
                "\n  {} failed attempts, {} retries ({} reassigned), {} timeouts, {} wrong answers, {} speculative duplicates ({} won)",
                st.failed_attempts,
                st.retries,
                st.reassignments,
                st.timeouts,
                st.wrong_answers,
                st.speculative,
                st.speculative_wins
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

    pub fn to_json(&self) -> String {
        let st = &self.scheduler;
        let workers: Vec<String> = self
            .workers
            .iter()
            .map(|w| {
                format!(
                    "{{\"name\":{},\"slots\":{},\"chunks\":{},\"bytes_in\":{},\"bytes_out\":{},\"failures\":{}}}",
                    json_string(&w.name),
                    w.slots,
                    w.stats.chunks,
                    w.stats.bytes_in,
                    w.stats.bytes_out,
                    w.stats.failures
                )
            })
            .collect();
        format!(
            "{{\"input\":{},\"output\":{},\"input_bytes\":{},\"output_bytes\":{},\"chunks\":{},\"resumed_chunks\":{},\
             \"wall_seconds\":{:.6},\"failed_attempts\":{},\"retries\":{},\"reassignments\":{},\"timeouts\":{},\
             \"wrong_answers\":{},\"speculative\":{},\"speculative_wins\":{},\"workers\":[{}]}}",
            json_string(&self.input),
            json_string(&self.output),
            self.input_bytes,
            self.output_bytes,
            self.chunks,
            self.resumed_chunks,
            self.wall.as_secs_f64(),
            st.failed_attempts,
            st.retries,
            st.reassignments,
            st.timeouts,
            st.wrong_answers,
            st.speculative,
            st.speculative_wins,
            workers.join(",")
        )
    }
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_and_reports_every_worker() {
        let r = JobReport {
            input: "a \"b\"\n.tar".into(),
            output: "o.gz".into(),
            input_bytes: 10,
            output_bytes: 5,
            chunks: 1,
            wall: Duration::from_millis(1500),
            resumed_chunks: 0,
            scheduler: SchedulerStats {
                retries: 3,
                ..Default::default()
            },
            workers: vec![WorkerReport {
                name: "127.0.0.1:7070".into(),
                slots: 2,
                stats: MemberStats {
                    chunks: 1,
                    bytes_in: 10,
                    bytes_out: 5,
                    failures: 0,
                },
            }],
        };
        let j = r.to_json();
        assert!(j.contains(r#""input":"a \"b\"\n.tar""#), "{j}");
        assert!(j.contains(r#""retries":3"#));
        assert!(
            j.contains(r#""workers":[{"name":"127.0.0.1:7070","slots":2,"chunks":1"#),
            "{j}"
        );
        assert!(j.contains(r#""wall_seconds":1.500000"#));
    }
}
