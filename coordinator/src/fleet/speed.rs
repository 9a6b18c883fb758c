//! How fast a worker has been, in seconds per input byte, from its answers: the time
//! from sending a chunk to its answer (what deadlines are made of), and one slot's
//! work in it (what dispatch compares workers by).
//!
//! The work estimate is the median of the last few answers, not an average: dispatch
//! stops feeding a worker it believes much slower than its peers, and then nothing
//! measures it again, so one answer that waited on a busy machine must not be able to
//! bench a healthy worker. For the same reason an estimate goes stale: a worker that
//! has not answered for a while is measured afresh with real work.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Answers the work estimate is the median of.
const KEPT: usize = 5;
/// An estimate this old is forgotten, so the worker gets work again and is re-measured.
const STALE_AFTER: Duration = Duration::from_secs(10);
/// Answers smaller than this are mostly round trip: they count as this many bytes.
const MIN_SAMPLE_BYTES: u64 = 64 << 10;

/// One answered attempt, for the estimates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub elapsed: Duration,
    /// Attempts in flight on the worker when this one was sent, itself included.
    pub depth: usize,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Speed {
    /// Smoothed seconds per byte from sending to answer, queueing included.
    latency: Option<f64>,
    /// Recent seconds per byte of one slot's work.
    work: VecDeque<f64>,
    updated: Option<Instant>,
}

impl Speed {
    /// An answer from a worker with `slots`: its latency, and its work (the latency
    /// divided by the waves of chunks that were ahead of it).
    pub fn answered(&mut self, s: &Sample, slots: usize, now: Instant) {
        let (latency, work) = per_byte(s, slots);
        self.latency = Some(match self.latency {
            Some(old) => 0.8 * old + 0.2 * latency,
            None => latency,
        });
        self.push(work, now);
    }

    /// An attempt that had run `s.elapsed` when it lost a race: the worker would have
    /// taken at least that long, so the estimates rise to it (never fall).
    pub fn at_least(&mut self, s: &Sample, slots: usize, now: Instant) {
        let (latency, work) = per_byte(s, slots);
        if self.latency.is_none_or(|l| l < latency) {
            self.latency = Some(latency);
        }
        if self.work(now).is_none_or(|w| w < work) {
            self.push(work, now);
        }
    }

    fn push(&mut self, work: f64, now: Instant) {
        if self
            .updated
            .is_some_and(|t| now.saturating_duration_since(t) > STALE_AFTER)
        {
            self.work.clear();
        }
        if self.work.len() == KEPT {
            self.work.pop_front();
        }
        self.work.push_back(work);
        self.updated = Some(now);
    }

    /// Seconds per byte from sending to answer; never stale (deadlines only need an
    /// order of magnitude).
    pub fn latency(&self) -> Option<f64> {
        self.latency
    }

    /// Seconds per byte of one slot's work: the median of recent answers, or None if
    /// there are none or they are stale.
    pub fn work(&self, now: Instant) -> Option<f64> {
        let fresh = self
            .updated
            .is_some_and(|t| now.saturating_duration_since(t) <= STALE_AFTER);
        if !fresh || self.work.is_empty() {
            return None;
        }
        let mut v: Vec<f64> = self.work.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }
}

fn per_byte(s: &Sample, slots: usize) -> (f64, f64) {
    let bytes = s.bytes_in.max(MIN_SAMPLE_BYTES) as f64;
    let latency = s.elapsed.as_secs_f64() / bytes;
    let waves = s.depth.div_ceil(slots.max(1)).max(1) as f64;
    (latency, latency / waves)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(ms: u64, depth: usize) -> Sample {
        Sample {
            bytes_in: 1 << 20,
            bytes_out: 1000,
            elapsed: Duration::from_millis(ms),
            depth,
        }
    }

    fn ms_per_mib(spb: f64) -> f64 {
        spb * (1 << 20) as f64 * 1e3
    }

    #[test]
    fn work_is_latency_divided_by_the_waves_ahead() {
        let t0 = Instant::now();
        let mut s = Speed::default();
        // Two slots, four in flight when sent: it waited one wave, then worked one.
        s.answered(&answer(200, 4), 2, t0);
        assert!((ms_per_mib(s.latency().unwrap()) - 200.0).abs() < 1e-6);
        assert!((ms_per_mib(s.work(t0).unwrap()) - 100.0).abs() < 1e-6);
    }

    #[test]
    fn one_answer_that_waited_on_a_busy_machine_does_not_bench_a_worker() {
        let t0 = Instant::now();
        let mut s = Speed::default();
        for ms in [10, 10, 500, 10, 10] {
            s.answered(&answer(ms, 1), 1, t0);
        }
        assert!((ms_per_mib(s.work(t0).unwrap()) - 10.0).abs() < 1e-6);
    }

    #[test]
    fn estimates_go_stale_so_an_unused_worker_is_measured_again() {
        let t0 = Instant::now();
        let mut s = Speed::default();
        s.answered(&answer(500, 1), 1, t0);
        assert!(s.work(t0 + STALE_AFTER).is_some());
        assert_eq!(s.work(t0 + STALE_AFTER + Duration::from_millis(1)), None);
        // A fresh answer after that starts a fresh estimate.
        let later = t0 + 2 * STALE_AFTER;
        s.answered(&answer(10, 1), 1, later);
        assert!((ms_per_mib(s.work(later).unwrap()) - 10.0).abs() < 1e-6);
    }

    #[test]
    fn a_lost_race_only_raises_the_estimates() {
        let t0 = Instant::now();
        let mut s = Speed::default();
        for _ in 0..3 {
            s.answered(&answer(10, 1), 1, t0);
        }
        s.at_least(&answer(5, 1), 1, t0);
        assert!((ms_per_mib(s.work(t0).unwrap()) - 10.0).abs() < 1e-6);
        s.at_least(&answer(400, 1), 1, t0);
        assert!(ms_per_mib(s.latency().unwrap()) >= 400.0 - 1e-6);
        // Like any answers, bounds move the median once they are most of the recent.
        assert!((ms_per_mib(s.work(t0).unwrap()) - 10.0).abs() < 1e-6);
        s.at_least(&answer(400, 1), 1, t0);
        s.at_least(&answer(400, 1), 1, t0);
        assert!(ms_per_mib(s.work(t0).unwrap()) >= 400.0 - 1e-6);
    }
}
