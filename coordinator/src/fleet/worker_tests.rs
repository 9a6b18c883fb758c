//! The health rules of one worker, on a made-up clock.

use super::*;
use crate::compress::{Chunk, JobParams};
use crate::fleet::link::{Answer, AttemptError, BoxFuture};
use crate::fleet::speed::Sample;
use gzfleet_worker::engine::Engine;

struct Named;

impl Link for Named {
    fn name(&self) -> &str {
        "w"
    }
    fn compress(
        &self,
        _: Arc<Chunk>,
        _: &JobParams,
        _: Duration,
    ) -> BoxFuture<Result<Answer, AttemptError>> {
        Box::pin(std::future::pending())
    }
    fn probe(&self) -> BoxFuture<Result<WorkerInfo, String>> {
        Box::pin(std::future::pending())
    }
}

fn info(slots: usize, queue_depth: usize) -> WorkerInfo {
    WorkerInfo {
        slots,
        queue_depth,
        max_chunk: 64 << 20,
        engines: Engine::ALL
            .iter()
            .map(|e| (e.name().into(), e.id().into()))
            .collect(),
        returns_window: true,
        writes_files: true,
        version: "test".into(),
    }
}

const BLOCK: Needs = Needs {
    block: 1 << 20,
    engine: Engine::ZlibRs,
    window: false,
    writes: false,
};
const MS: Duration = Duration::from_millis(1);

/// A listed worker brought up by its first probe at `t0`.
fn up_at(t0: Instant) -> Worker {
    let mut w = Worker::listed(Arc::new(Named), t0);
    let ticket = w.start_probe(t0).expect("a new worker is probed at once");
    let outcome = w.probe_finished(ticket, Ok(info(2, 4)), BLOCK, t0);
    assert_eq!(
        outcome,
        Some(ProbeOutcome::Up {
            was: "not yet probed".into()
        })
    );
    w
}

#[test]
fn capacity_is_slots_plus_prefetch_within_the_workers_queue() {
    let t0 = Instant::now();
    let w = up_at(t0);
    assert_eq!((w.slots(), w.capacity()), (2, 3));
    let mut tight = Worker::listed(Arc::new(Named), t0);
    let ticket = tight.start_probe(t0).unwrap();
    tight.probe_finished(ticket, Ok(info(4, 1)), BLOCK, t0);
    assert_eq!(tight.capacity(), 5, "prefetch beyond a queue of 1");
}

#[test]
fn a_failed_worker_is_probed_after_a_backoff_that_doubles() {
    let t0 = Instant::now();
    let mut w = up_at(t0);
    assert_eq!(
        w.take_down("reset".into(), t0),
        Some(1),
        "going down is news"
    );
    assert_eq!(w.take_down("reset".into(), t0), None, "already down");
    assert!(!w.accepts_work(t0));
    assert_eq!(
        w.start_probe(t0 + 199 * MS),
        None,
        "probed before its backoff"
    );
    let t1 = t0 + 200 * MS;
    let ticket = w.start_probe(t1).unwrap();
    assert_eq!(w.start_probe(t1), None, "two probes at once");
    w.probe_finished(ticket, Err("refused".into()), BLOCK, t1);
    assert_eq!(w.status(), "refused");
    assert_eq!(w.start_probe(t1 + 399 * MS), None);
    let ticket = w
        .start_probe(t1 + 400 * MS)
        .expect("second backoff is 400 ms");
    assert!(matches!(
        w.probe_finished(ticket, Ok(info(2, 4)), BLOCK, t1 + 400 * MS),
        Some(ProbeOutcome::Up { .. })
    ));
    assert!(w.accepts_work(t1 + 400 * MS));
}

#[test]
fn probe_backoff_stops_growing() {
    let t0 = Instant::now();
    let mut w = up_at(t0);
    w.take_down("gone".into(), t0);
    let mut t = t0;
    for _ in 0..20 {
        t += MAX_PROBE_BACKOFF;
        let ticket = w.start_probe(t).expect("probed within the largest backoff");
        w.probe_finished(ticket, Err("gone".into()), BLOCK, t);
    }
}

#[test]
fn a_stale_probe_answer_is_ignored() {
    let t0 = Instant::now();
    let mut w = up_at(t0);
    w.take_down("gone".into(), t0);
    let old = w.start_probe(t0 + 200 * MS).unwrap();
    // The job ends with the probe out; the next job probes again.
    w.new_job(t0 + 300 * MS);
    let new = w.start_probe(t0 + 300 * MS).unwrap();
    assert_ne!(old, new);
    assert_eq!(
        w.probe_finished(old, Ok(info(2, 4)), BLOCK, t0 + 310 * MS),
        None,
        "the first probe's answer landed during the second"
    );
    assert!(matches!(w.health(), Health::Probing { .. }));
    assert!(
        w.probe_finished(new, Ok(info(2, 4)), BLOCK, t0 + 320 * MS)
            .is_some()
    );
}

#[test]
fn retiring_and_relisting_a_worker_invalidates_its_probe() {
    let t0 = Instant::now();
    let mut w = up_at(t0);
    w.take_down("gone".into(), t0);
    let ticket = w.start_probe(t0 + 200 * MS).unwrap();
    assert!(w.retire());
    assert!(w.relist(t0 + 250 * MS));
    let fresh = w.start_probe(t0 + 250 * MS).unwrap();
    assert_eq!(w.probe_finished(ticket, Err("x".into()), BLOCK, t0), None);
    assert!(matches!(
        w.probe_finished(fresh, Ok(info(2, 4)), BLOCK, t0 + 260 * MS),
        Some(ProbeOutcome::Up { .. })
    ));
}

#[test]
fn a_worker_that_flaps_without_answering_is_probed_less_often() {
    let t0 = Instant::now();
    let mut w = up_at(t0);
    let mut t = t0;
    // Its probes pass but its work fails: each take-down waits longer.
    for (downs, wait_ms) in [(1, 200), (2, 400), (3, 800), (4, 1600)] {
        assert_eq!(w.take_down("INTERNAL".into(), t), Some(downs));
        assert_eq!(
            w.start_probe(t + (wait_ms - 1) * MS),
            None,
            "take-down {downs}"
        );
        t += wait_ms * MS;
        let ticket = w.start_probe(t).unwrap();
        w.probe_finished(ticket, Ok(info(2, 4)), BLOCK, t);
    }
    // An answer ends the streak.
    w.answered(
        Sample {
            bytes_in: 1000,
            bytes_out: 10,
            elapsed: MS,
            depth: 1,
        },
        t0,
    );
    assert_eq!(w.take_down("reset".into(), t), Some(1));
    assert!(w.start_probe(t + 200 * MS).is_some());
}

#[test]
fn busy_answers_in_a_row_are_counted_until_an_answer() {
    let t0 = Instant::now();
    let mut w = up_at(t0);
    assert_eq!((w.busy(t0), w.busy(t0), w.busy(t0)), (1, 2, 3));
    w.answered(
        Sample {
            bytes_in: 1000,
            bytes_out: 10,
            elapsed: MS,
            depth: 1,
        },
        t0,
    );
    assert_eq!(w.busy(t0), 1);
}

#[test]
fn wrong_answers_back_off_longer_each_time() {
    let t0 = Instant::now();
    let mut w = up_at(t0);
    w.distrust("bad crc".into(), t0);
    assert_eq!(w.start_probe(t0 + 999 * MS), None);
    let ticket = w.start_probe(t0 + 1000 * MS).unwrap();
    w.probe_finished(ticket, Ok(info(2, 4)), BLOCK, t0 + 1000 * MS);
    let t1 = t0 + 2000 * MS;
    w.distrust("bad crc".into(), t1);
    assert_eq!(
        w.start_probe(t1 + 1999 * MS),
        None,
        "second distrust waits 2 s"
    );
    assert!(w.start_probe(t1 + 2000 * MS).is_some());
}

#[test]
fn busy_is_a_pause_not_a_failure() {
    let t0 = Instant::now();
    let mut w = up_at(t0);
    w.busy(t0);
    assert!(w.is_up());
    assert!(!w.accepts_work(t0 + 49 * MS));
    assert!(w.accepts_work(t0 + 50 * MS));
    assert_eq!(w.stats().failures, 0);
}

#[test]
fn unsuitable_workers_are_excluded_with_the_reason() {
    let t0 = Instant::now();
    let mut w = Worker::listed(Arc::new(Named), t0);
    let ticket = w.start_probe(t0).unwrap();
    let mut other = info(2, 4);
    other.engines[0].1 = "zlib-ng/2".into();
    let outcome = w.probe_finished(ticket, Ok(other), BLOCK, t0).unwrap();
    assert!(
        matches!(&outcome, ProbeOutcome::Excluded(why) if why.contains("zlib-ng/2")),
        "{outcome:?}"
    );
    assert_eq!(
        w.start_probe(t0 + MAX_PROBE_BACKOFF),
        None,
        "excluded stays out"
    );
    // Unlisted, it leaves; listed again (upgraded, say), it is probed afresh.
    assert!(w.retire());
    assert!(w.can_leave());
    assert!(w.relist(t0));
    assert!(w.start_probe(t0).is_some());
}

#[test]
fn a_worker_without_the_jobs_engine_is_excluded_naming_what_it_has() {
    let t0 = Instant::now();
    let mut w = Worker::listed(Arc::new(Named), t0);
    let ticket = w.start_probe(t0).unwrap();
    let mut old = info(2, 4);
    old.engines.retain(|(name, _)| name == "zlib-rs");
    let needs = Needs {
        engine: Engine::Libdeflate,
        ..BLOCK
    };
    let outcome = w
        .probe_finished(ticket, Ok(old.clone()), needs, t0)
        .unwrap();
    assert!(
        matches!(&outcome, ProbeOutcome::Excluded(why)
            if why.contains("no engine 'libdeflate'") && why.contains("has zlib-rs")),
        "{outcome:?}"
    );
    // The same worker suits a zlib-rs job.
    let mut w = Worker::listed(Arc::new(Named), t0);
    let ticket = w.start_probe(t0).unwrap();
    let outcome = w.probe_finished(ticket, Ok(old), BLOCK, t0).unwrap();
    assert!(matches!(outcome, ProbeOutcome::Up { .. }), "{outcome:?}");
}

#[test]
fn a_worker_too_old_for_windows_is_excluded_only_when_windows_are_needed() {
    let t0 = Instant::now();
    // What a worker from before return_window reports (see remote::worker_info).
    let mut old = info(2, 4);
    old.engines.retain(|(name, _)| name == "zlib-rs");
    old.returns_window = false;
    old.version = "0.1.0".into();
    let pull_index = Needs {
        window: true,
        writes: false,
        ..BLOCK
    };
    let mut w = Worker::listed(Arc::new(Named), t0);
    let ticket = w.start_probe(t0).unwrap();
    let outcome = w
        .probe_finished(ticket, Ok(old.clone()), pull_index, t0)
        .unwrap();
    assert!(
        matches!(&outcome, ProbeOutcome::Excluded(why)
            if why.contains("too old to return index windows") && why.contains("0.1.0")),
        "{outcome:?}"
    );
    // Pushed, or without an index, it serves as before; a current worker serves both.
    for (info, needs) in [(old, BLOCK), (info(2, 4), pull_index)] {
        let mut w = Worker::listed(Arc::new(Named), t0);
        let ticket = w.start_probe(t0).unwrap();
        let outcome = w.probe_finished(ticket, Ok(info), needs, t0).unwrap();
        assert!(matches!(outcome, ProbeOutcome::Up { .. }), "{outcome:?}");
    }
}
