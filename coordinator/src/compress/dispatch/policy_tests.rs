//! Every rule of the dispatch policy on made-up instants: each runs in microseconds.

use super::*;

const MIB: usize = 1 << 20;

fn id(n: u32) -> WorkerId {
    WorkerId::for_test(n)
}

/// A worker with `slots`, `inflight` attempts, room while below `slots + 1`, and a
/// speed of `ms_per_mib` when measured.
fn worker(n: u32, slots: usize, inflight: usize, ms_per_mib: Option<f64>) -> Candidate {
    Candidate {
        id: id(n),
        available: true,
        room: inflight < slots + 1,
        inflight,
        slots,
        service_spb: ms_per_mib.map(|ms| ms / 1e3 / MIB as f64),
    }
}

fn latency_of(samples: usize, each: Duration, bytes: u64) -> Latency {
    let mut l = Latency::default();
    for _ in 0..samples {
        l.record(each, bytes);
    }
    l
}

#[test]
fn deadlines_follow_observed_speed_above_a_floor() {
    // Unmeasured: generous, growing with the chunk.
    assert_eq!(deadline(None, None, 0), Duration::from_secs(10));
    assert_eq!(deadline(None, None, 1_000_000), Duration::from_secs(11));
    // Fast worker: the floor of 5 s plus the chunk at 4 MB/s.
    let fast = 10e-3 / MIB as f64;
    assert_eq!(
        deadline(Some(fast), None, 4_000_000),
        Duration::from_secs(6)
    );
    // Slow worker (1 s per MiB): twenty times its time.
    let slow = 1.0 / MIB as f64;
    assert_eq!(deadline(Some(slow), None, MIB), Duration::from_secs(20));
    // Its own speed wins over the fleet's.
    assert_eq!(
        deadline(Some(slow), Some(fast), MIB),
        Duration::from_secs(20)
    );
    assert_eq!(deadline(None, Some(slow), MIB), Duration::from_secs(20));
}

#[test]
fn the_deadline_floor_outlasts_keepalive() {
    // Silence must be noticed by keepalive before any deadline passes.
    assert!(KEEPALIVE_INTERVAL + KEEPALIVE_TIMEOUT < MIN_DEADLINE);
    assert!(deadline(Some(0.0), None, 0) >= MIN_DEADLINE);
}

#[test]
fn lateness_needs_enough_answers_then_four_times_the_median() {
    let t0 = Instant::now();
    let few = latency_of(MIN_SAMPLES - 1, Duration::from_millis(10), MIB as u64);
    assert!(
        !few.is_late(t0, t0 + Duration::from_secs(60), MIB),
        "judged on 7 answers"
    );
    let l = latency_of(MIN_SAMPLES, Duration::from_millis(10), MIB as u64);
    // 4 x 10 ms + 50 ms of slack.
    assert!(!l.is_late(t0, t0 + Duration::from_millis(89), MIB));
    assert!(l.is_late(t0, t0 + Duration::from_millis(91), MIB));
    // A chunk half the size is late sooner: 4 x 5 ms + the same slack.
    assert!(!l.is_late(t0, t0 + Duration::from_millis(69), MIB / 2));
    assert!(l.is_late(t0, t0 + Duration::from_millis(71), MIB / 2));
}

#[test]
fn the_median_forgets_old_answers() {
    let mut l = latency_of(SAMPLES_KEPT, Duration::from_secs(1), 1);
    for _ in 0..SAMPLES_KEPT / 2 + 1 {
        l.record(Duration::from_millis(1), 1);
    }
    assert_eq!(l.median(), Some(1e-3));
}

#[test]
fn the_next_chunk_goes_to_the_worker_with_most_room() {
    let cands = [worker(0, 1, 1, None), worker(1, 1, 0, None)];
    assert_eq!(choose(&cands, MIB, &[]), Some(id(1)));
}

#[test]
fn a_retry_prefers_a_worker_it_has_not_failed_on() {
    let cands = [worker(0, 1, 0, Some(10.0)), worker(1, 1, 1, Some(10.0))];
    assert_eq!(choose(&cands, MIB, &[id(0)]), Some(id(1)));
    // ...and waits for it rather than go back to the one it failed on...
    let full = [worker(0, 1, 0, Some(10.0)), worker(1, 1, 2, Some(10.0))];
    assert_eq!(choose(&full, MIB, &[id(0)]), None);
    // ...unless nobody else is in rotation.
    let out = Candidate {
        available: false,
        room: false,
        ..worker(1, 1, 0, Some(10.0))
    };
    assert_eq!(choose(&[full[0].clone(), out], MIB, &[id(0)]), Some(id(0)));
}

#[test]
fn nobody_with_room_means_waiting() {
    let cands = [worker(0, 1, 2, None), worker(1, 2, 3, Some(5.0))];
    assert_eq!(choose(&cands, MIB, &[]), None);
    let down = Candidate {
        available: false,
        room: false,
        ..worker(2, 4, 0, None)
    };
    assert_eq!(choose(&[down], MIB, &[]), None);
}

#[test]
fn a_slow_worker_does_not_get_what_a_busy_fast_one_would_finish_sooner() {
    // Fast: 20 ms a MiB, full (two in flight on one slot: done in three waves, 60 ms).
    // Slow: 200 ms a MiB, idle: done in 200 ms. The chunk waits for the fast one.
    let fast_full = worker(0, 1, 2, Some(20.0));
    let slow_idle = worker(1, 1, 0, Some(200.0));
    assert_eq!(
        choose(&[fast_full.clone(), slow_idle.clone()], MIB, &[]),
        None
    );
    // A slow worker only twice as slow does help: 40 ms beats three waves of 20.
    let slower_idle = worker(1, 1, 0, Some(40.0));
    assert_eq!(
        choose(&[fast_full.clone(), slower_idle], MIB, &[]),
        Some(id(1))
    );
    // Fast with room: it gets the chunk, of course.
    let fast_free = worker(0, 1, 1, Some(20.0));
    assert_eq!(choose(&[fast_free, slow_idle], MIB, &[]), Some(id(0)));
}

#[test]
fn a_worker_pausing_after_backpressure_is_not_waited_for() {
    // The fast worker answered RESOURCE_EXHAUSTED: waiting for it would stall the job
    // until its pause ends, only for it to push back again.
    let paused = Candidate {
        available: false,
        room: false,
        ..worker(0, 1, 0, Some(20.0))
    };
    let slow_idle = worker(1, 1, 0, Some(200.0));
    assert_eq!(choose(&[paused, slow_idle], MIB, &[]), Some(id(1)));
}

#[test]
fn an_unmeasured_worker_is_tried_and_never_waited_for() {
    let measured = worker(0, 1, 0, Some(20.0));
    let new = worker(1, 1, 0, None);
    assert_eq!(choose(&[measured.clone(), new], MIB, &[]), Some(id(1)));
    // A full worker that never answered (hung from the start) holds nothing up.
    let silent_full = worker(1, 1, 2, None);
    assert_eq!(choose(&[measured, silent_full], MIB, &[]), Some(id(0)));
}

#[test]
fn a_retry_does_not_wait_for_the_worker_it_failed_on() {
    let failed_fast = worker(0, 1, 2, Some(20.0));
    let slow_idle = worker(1, 1, 0, Some(200.0));
    assert_eq!(
        choose(&[failed_fast, slow_idle], MIB, &[id(0)]),
        Some(id(1))
    );
}

#[test]
fn a_duplicate_goes_anywhere_with_room_but_where_the_original_runs() {
    let cands = [worker(0, 1, 0, Some(10.0)), worker(1, 1, 0, Some(300.0))];
    assert_eq!(choose_duplicate(&cands, MIB, &[id(0)], id(0)), Some(id(1)));
    let only = [worker(0, 1, 0, Some(10.0))];
    assert_eq!(choose_duplicate(&only, MIB, &[id(0)], id(0)), None);
}

#[test]
fn failures_are_judged_by_what_they_say_about_the_worker() {
    let d = Duration::from_secs(1);
    assert_eq!(
        judge(&AttemptError::Busy("full".into())),
        (Fate::Pause, false)
    );
    assert_eq!(
        judge(&AttemptError::Down("reset".into())),
        (Fate::Down, true)
    );
    assert_eq!(judge(&AttemptError::Timeout(d)), (Fate::Down, true));
    assert_eq!(
        judge(&AttemptError::Wrong("crc".into())),
        (Fate::Distrust, true)
    );
    assert_eq!(
        judge(&AttemptError::Rejected("size".into())),
        (Fate::Exclude, false)
    );
    assert_eq!(
        judge(&AttemptError::Fatal("oom".into())),
        (Fate::JobFails, false)
    );
}

#[test]
fn two_lost_races_in_a_row_take_a_worker_down() {
    assert!(!too_many_lost_races(1));
    assert!(too_many_lost_races(2));
}

#[test]
fn backpressure_that_never_ends_is_a_worker_down() {
    assert!(!busy_too_long(BUSY_LIMIT - 1));
    assert!(busy_too_long(BUSY_LIMIT));
}

#[test]
fn waiting_for_workers_is_bounded_and_said_once() {
    let t0 = Instant::now();
    let wait = Duration::from_secs(60);
    let mut s = Stall::default();
    assert_eq!(s.check(t0, true, true, true, wait), Stalled::No);
    assert_eq!(
        s.check(t0, true, false, true, wait),
        Stalled::Waiting {
            left: wait,
            first: true
        }
    );
    let later = t0 + Duration::from_secs(20);
    assert_eq!(
        s.check(later, true, false, true, wait),
        Stalled::Waiting {
            left: Duration::from_secs(40),
            first: false
        }
    );
    assert_eq!(s.check(later, true, true, true, wait), Stalled::Over);
    // Stalled again: the clock starts over, and gives up at the limit.
    s.check(later, true, false, true, wait);
    assert_eq!(
        s.check(later + wait, true, false, true, wait),
        Stalled::GiveUp {
            waited: wait,
            may_return: true
        }
    );
}

#[test]
fn nobody_to_wait_for_gives_up_at_once() {
    let t0 = Instant::now();
    let mut s = Stall::default();
    assert_eq!(
        s.check(t0, true, false, false, Duration::from_secs(60)),
        Stalled::GiveUp {
            waited: Duration::ZERO,
            may_return: false
        }
    );
    // Nothing left to do: no stall whoever is up.
    assert_eq!(
        Stall::default().check(t0, false, false, false, Duration::ZERO),
        Stalled::No
    );
}
