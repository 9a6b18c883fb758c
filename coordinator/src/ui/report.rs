//! What a run did, for `-v` and `--stats-json`: each input's sizes and time, and how
//! the fleet behaved over the run (retries, reassignments, speculative duplicates,
//! each worker's share).

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

/// One input compressed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FileReport {
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
    /// The input was removed (--rm), as gzip replaces it.
    #[serde(skip)]
    pub replaced: bool,
}

/// `--stats-json`: every input compressed, and the fleet over the whole run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunReport {
    pub jobs: Vec<FileReport>,
    /// Inputs that failed (each named on stderr as it did).
    pub failed: usize,
    #[serde(rename = "wall_seconds", serialize_with = "seconds")]
    pub wall: Duration,
    #[serde(flatten)]
    pub dispatch: DispatchStats,
    pub workers: Vec<WorkerReport>,
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// gzip -v's figure: the share of the input saved, printf's "%5.1f%%".
fn saved(input: u64, output: u64) -> String {
    let saved = match input {
        0 => 0.0,
        _ => 100.0 * (input as f64 - output as f64) / input as f64,
    };
    format!("{saved:5.1}%")
}

/// "a -> b bytes, T s, S MiB/s": `done` is what this run read (not what a run it
/// resumed had done). MiB, as the progress bar counts them.
fn sizes_and_speed(input: u64, output: u64, done: u64, wall: Duration) -> String {
    let secs = wall.as_secs_f64().max(1e-9);
    format!(
        "{input} -> {output} bytes, {secs:.2}s, {:.1} MiB/s",
        done as f64 / secs / MIB
    )
}

const MIB: f64 = (1u64 << 20) as f64;

impl FileReport {
    /// The `-v` line for this input, gzip's ("data:  63.5% -- created data.gz") with
    /// the sizes and speed after it.
    pub fn line(&self) -> String {
        let done = self.input_bytes - self.resumed_bytes.min(self.input_bytes);
        let verb = match self.replaced {
            true => "replaced with",
            false => "created",
        };
        let mut s = format!(
            "{}: {} -- {verb} {} ({}, {} chunks",
            self.input,
            saved(self.input_bytes, self.output_bytes),
            self.output,
            sizes_and_speed(self.input_bytes, self.output_bytes, done, self.wall),
            self.chunks
        );
        if self.resumed_chunks > 0 {
            let _ = write!(s, ", resumed after chunk {}", self.resumed_chunks);
        }
        s.push(')');
        s
    }
}

impl RunReport {
    /// The `-v` summary: the input's line for a run of one, else a total; then how the
    /// fleet behaved and each worker's share.
    pub fn summary(&self) -> String {
        let mut s = match self.jobs.as_slice() {
            [one] if self.failed == 0 => one.line(),
            jobs => {
                let (input, output, done) = jobs.iter().fold((0, 0, 0), |(i, o, d), j| {
                    (
                        i + j.input_bytes,
                        o + j.output_bytes,
                        d + j.input_bytes - j.resumed_bytes,
                    )
                });
                let failed = match self.failed {
                    0 => String::new(),
                    n => format!(" ({n} more failed)"),
                };
                format!(
                    "{} files{failed}: {} saved ({})",
                    jobs.len(),
                    saved(input, output),
                    sizes_and_speed(input, output, done, self.wall)
                )
            }
        };
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

    fn file(input: &str, bytes: u64) -> FileReport {
        FileReport {
            input: input.into(),
            output: "o.gz".into(),
            input_bytes: bytes,
            output_bytes: 5,
            chunks: 1,
            resumed_chunks: 0,
            resumed_bytes: 0,
            wall: Duration::from_millis(1500),
            replaced: false,
        }
    }

    fn run(jobs: Vec<FileReport>) -> RunReport {
        RunReport {
            jobs,
            failed: 0,
            wall: Duration::from_millis(1500),
            dispatch: DispatchStats {
                retries: 3,
                failed_attempts: 3,
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
        let j = serde_json::to_string(&run(vec![file("a \"b\"\n.tar", 10)])).unwrap();
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
    fn a_resumed_run_reports_the_speed_of_what_it_did_in_mib() {
        let mut r = file("in", 100 << 20);
        assert!(r.line().contains(", 66.7 MiB/s, 1 chunks)"), "{}", r.line());
        r.resumed_chunks = 90;
        r.resumed_bytes = 90 << 20;
        assert!(
            r.line()
                .ends_with(", 6.7 MiB/s, 1 chunks, resumed after chunk 90)"),
            "{}",
            r.line()
        );
    }

    #[test]
    fn the_line_says_space_saved_as_gzip_v_does() {
        let mut r = file("data", 10);
        assert_eq!(
            r.line(),
            "data:  50.0% -- created o.gz (10 -> 5 bytes, 1.50s, 0.0 MiB/s, 1 chunks)"
        );
        r.replaced = true;
        r.output_bytes = 34;
        assert!(
            r.line()
                .starts_with("data: -240.0% -- replaced with o.gz (10 -> 34 bytes"),
            "{}",
            r.line()
        );
        r.input_bytes = 0;
        assert!(r.line().starts_with("data:   0.0% -- "), "{}", r.line());
    }

    #[test]
    fn one_input_is_summed_up_by_its_own_line_several_by_a_total() {
        let one = run(vec![file("a", 10)]).summary();
        assert!(
            one.starts_with("a:  50.0% -- created o.gz (10 -> 5 bytes"),
            "{one}"
        );
        let many = run(vec![file("a", 10), file("b", 30)]).summary();
        assert!(
            many.starts_with("2 files:  75.0% saved (40 -> 10 bytes, 1.50s, "),
            "{many}"
        );
        // Then the fleet: its troubles, each worker.
        let lines: Vec<&str> = many.lines().collect();
        assert_eq!(lines.len(), 3, "{many}");
        assert!(lines[2].starts_with("  worker 127.0.0.1:7070 (2 slots): 1 chunks"));
    }
}
