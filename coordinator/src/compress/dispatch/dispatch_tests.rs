//! The dispatcher's event loop against fake workers on tokio's paused clock: seconds of
//! hangs, deadlines and backoffs pass in milliseconds, and every run is the same.

use std::sync::atomic::Ordering;

use super::fakes::*;
use super::*;
use crate::ui::Verbosity;

#[test]
fn every_chunk_is_written_once_across_workers() {
    let (a, b) = (
        Fake::new("a", vec![Act::After(10 * MS)]),
        Fake::new("b", vec![Act::After(15 * MS)]),
    );
    let mut f = fleet(&[&a, &b]);
    let out = job(&mut f, 40, config(5));
    assert_eq!(out.result.unwrap(), 40);
    each_once(&out.written, 40);
    assert!(!a.done().is_empty() && !b.done().is_empty());
    assert!(
        out.stats.received_bytes > 0,
        "the answers' bytes went uncounted"
    );
    let quiet = DispatchStats {
        received_bytes: 0,
        ..out.stats
    };
    assert_eq!(quiet, DispatchStats::default(), "nothing went wrong");
}

#[test]
fn a_worker_down_is_said_and_its_chunks_move_at_once() {
    // "bad" fails its third call as a dropped connection would, holding another chunk.
    let good = Fake::new("good", vec![Act::After(10 * MS)]);
    // Its second call hangs: only calling it off when the worker goes down saves it
    // from waiting out its deadline.
    let bad = Fake::new(
        "bad",
        vec![
            Act::After(10 * MS),
            Act::Hang,
            Act::Fail(AttemptError::Down("connection reset".into())),
            Act::After(10 * MS),
        ],
    );
    let mut f = fleet(&[&good, &bad]);
    let out = job(&mut f, 100, config(5));
    assert_eq!(out.result.unwrap(), 100);
    each_once(&out.written, 100);
    assert!(
        out.said
            .iter()
            .any(|l| l == "gzfleet: worker bad out of rotation: connection reset"),
        "{:?}",
        out.said
    );
    assert_eq!(out.stats.failed_attempts, 1);
    assert_eq!(
        out.stats.timeouts, 0,
        "its other chunk waited for its deadline"
    );
    // Probed 200 ms later, it comes back (and is said to) before the job ends.
    assert!(
        out.said
            .iter()
            .any(|l| l.starts_with("gzfleet: worker bad is back"))
    );
}

#[test]
fn a_full_queue_is_backpressure_not_a_failure() {
    let busy = AttemptError::Busy("queue full".into());
    let a = Fake::new(
        "a",
        vec![Act::Fail(busy.clone()), Act::Fail(busy), Act::After(5 * MS)],
    );
    let mut f = fleet(&[&a]);
    let out = job(&mut f, 10, config(1));
    assert_eq!(
        out.result.unwrap(),
        10,
        "backpressure used up --max-attempts 1"
    );
    assert_eq!(out.stats.busy, 2);
    assert_eq!(out.stats.failed_attempts, 0);
    assert_eq!(f.reports()[0].stats.failures, 0);
    assert!(out.said.is_empty(), "backpressure printed {:?}", out.said);
}

#[test]
fn a_wrong_answer_uses_attempts_until_the_chunk_fails() {
    let liar = Fake::new(
        "liar",
        vec![Act::Fail(AttemptError::Wrong("CRC-32".into()))],
    );
    let mut f = fleet(&[&liar]);
    let out = job(&mut f, 3, config(2));
    match out.result {
        Err(Error::ChunkFailed {
            attempts: 2,
            ref reason,
            ..
        }) => {
            assert!(reason.contains("wrong answer"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(out.stats.wrong_answers >= 2, "{:?}", out.stats);
}

#[test]
fn a_hung_worker_is_taken_down_after_losing_two_races() {
    // It answers its first ten calls, then hangs for good (a paused container).
    let mut script = vec![Act::After(10 * MS); 10];
    script.push(Act::Hang);
    let hung = Fake::quiet_probes("hung", script);
    let fine = Fake::new("fine", vec![Act::After(10 * MS)]);
    let mut f = fleet(&[&hung, &fine]);
    let out = job(&mut f, 200, config(5));
    assert_eq!(out.result.unwrap(), 200);
    each_once(&out.written, 200);
    assert!(
        out.stats.speculative <= 3,
        "a duplicate per chunk: {:?}",
        out.stats
    );
    assert_eq!(
        out.stats.timeouts, 0,
        "waited for deadlines: {:?}",
        out.stats
    );
    assert!(
        out.said
            .iter()
            .any(|l| l.contains("worker hung out of rotation: lost 2 races")),
        "{:?}",
        out.said
    );
    // Once noticed it got nothing more: at most its 10 answers.
    assert!(hung.done().len() <= 10);
    // The healthy worker alone takes 1 s; the hang may not cost more than a tenth.
    assert!(out.took <= Duration::from_millis(1100), "{:?}", out.took);
}

#[test]
fn a_slow_worker_gets_only_what_it_finishes_sooner() {
    let slow = Fake::new("slow", vec![Act::After(200 * MS)]);
    let fast = Fake::new("fast", vec![Act::After(10 * MS)]);
    let mut f = fleet(&[&slow, &fast]);
    let out = job(&mut f, 200, config(5));
    assert_eq!(out.result.unwrap(), 200);
    let (s, q) = (slow.done().len(), fast.done().len());
    assert!(s <= 4, "the slow worker did {s} of 200 chunks");
    assert!(out.stats.speculative <= 3, "{:?}", out.stats);
    // The fast worker alone takes 1 s (200 chunks, 10 ms each, two at a time here):
    // the slow one may not cost more than a tenth of that.
    assert!(
        out.took <= Duration::from_millis(1100),
        "{:?}; fast did {q}",
        out.took
    );
}

#[test]
fn a_deadline_cuts_a_hang_when_nobody_can_duplicate() {
    let once = Fake::new(
        "once",
        vec![Act::After(5 * MS), Act::Hang, Act::After(5 * MS)],
    );
    let mut f = fleet(&[&once]);
    let out = job(&mut f, 20, config(5));
    assert_eq!(out.result.unwrap(), 20);
    assert_eq!(out.stats.timeouts, 1);
    assert!(out.stats.retries >= 1);
}

#[test]
fn with_every_worker_gone_the_job_waits_then_fails_resumably() {
    let gone = Fake::quiet_probes(
        "gone",
        vec![Act::Fail(AttemptError::Down("refused".into()))],
    );
    let mut f = fleet(&[&gone]);
    let out = job(&mut f, 5, config(100));
    match &out.result {
        Err(Error::WorkersGone { waited_secs, .. }) => {
            assert!((30.0..31.0).contains(waited_secs), "{waited_secs}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        out.said
            .iter()
            .any(|l| l.contains("no worker is up; waiting up to 30s")),
        "{:?}",
        out.said
    );
}

#[test]
fn a_probe_cut_short_by_the_end_of_a_job_is_retried_in_the_next() {
    // Long enough for the first probe (200 ms after the failure) to start.
    let good = Fake::new("good", vec![Act::After(50 * MS)]);
    let flaky = Fake::quiet_probes("flaky", vec![Act::Fail(AttemptError::Down("gone".into()))]);
    let mut f = fleet(&[&good, &flaky]);
    job(&mut f, 10, config(5));
    assert_eq!(flaky.probes.load(Ordering::SeqCst), 1);
    // The next job must probe it again rather than wait on a lost answer.
    job(&mut f, 10, config(5));
    assert_eq!(flaky.probes.load(Ordering::SeqCst), 2);
}

#[test]
fn a_worker_that_never_stops_pushing_back_fails_the_job_in_bounded_time() {
    // Its queue never drains (its threads hung, or a proxy refusing), though its
    // health checks pass.
    let stuck = Fake::new("stuck", vec![Act::Fail(AttemptError::Busy("full".into()))]);
    let mut f = fleet(&[&stuck]);
    let out = job(&mut f, 3, config(2));
    match &out.result {
        Err(Error::ChunkFailed { reason, .. }) => {
            assert!(
                reason.contains("RESOURCE_EXHAUSTED 10 times in a row"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(out.took < Duration::from_secs(60), "{:?}", out.took);
    assert!(
        out.said
            .iter()
            .any(|l| l.contains("worker stuck out of rotation: answered RESOURCE_EXHAUSTED"))
    );
}

#[test]
fn chunks_do_not_wait_for_a_worker_pausing_after_backpressure() {
    // The fast worker answers 20 chunks, then only pushes back (another coordinator
    // took it over); the slow one must carry the job meanwhile.
    let mut script = vec![Act::After(5 * MS); 20];
    script.push(Act::Fail(AttemptError::Busy("full".into())));
    let fast = Fake::new("fast", script);
    let slow = Fake::new("slow", vec![Act::After(40 * MS)]);
    let mut f = fleet(&[&fast, &slow]);
    let out = job(&mut f, 300, config(5));
    assert_eq!(out.result.unwrap(), 300);
    // The slow worker alone: 280 chunks, two at a time, 40 ms each: about 5.6 s.
    assert!(out.took < Duration::from_secs(8), "{:?}", out.took);
}

#[test]
fn a_retry_waiting_for_another_worker_holds_up_no_chunk_behind_it() {
    // Chunk 0 cannot be read on "a" (pull mode: its copy differs), so it waits for
    // "b", which is slow and full; the chunks after it must not wait with it.
    let a = Fake::new(
        "a",
        vec![
            Act::Fail(AttemptError::Input("differs here".into())),
            Act::After(10 * MS),
        ],
    );
    let b = Fake::new("b", vec![Act::After(2000 * MS)]);
    let mut f = fleet(&[&a, &b]);
    let out = job(&mut f, 100, config(5));
    assert_eq!(out.result.unwrap(), 100);
    each_once(&out.written, 100);
    assert!(
        a.done().len() >= 90,
        "a did {} of 100 chunks",
        a.done().len()
    );
    // "b" has room again at 2 s, and chunk 0, late there, is soon duplicated on "a".
    // The ~96 other chunks take "a" about 0.5 s: done meanwhile, not after.
    assert!(out.took < Duration::from_millis(2300), "{:?}", out.took);
}

#[test]
fn a_stream_cut_short_is_an_error_not_a_short_run() {
    let a = Fake::new("a", vec![Act::After(MS)]);
    let mut f = fleet(&[&a]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let (tx, rx) = unbounded_channel();
    let (results_tx, _results) = unbounded_channel();
    // A reader that dies: its channel closes with no Item::Done.
    drop(tx);
    let mut d = Dispatcher::new(
        &mut f,
        params(),
        config(5),
        Ui::new(Verbosity {
            quiet: true,
            verbose: 0,
        }),
        Progress::hidden(),
        Arc::new(Window::new(0, 10)),
        results_tx,
    );
    match runtime.block_on(d.run(rx)) {
        Err(Error::Fatal(why)) => assert!(why.contains("reader stopped"), "{why}"),
        other => panic!("{other:?}"),
    }
}
