//! Every transition of the task state machine.

use super::*;
use crate::compress::chunker::Payload;
use bytes::Bytes;

fn id(n: u32) -> WorkerId {
    WorkerId::for_test(n)
}

fn chunk(index: u64) -> Arc<Chunk> {
    Arc::new(Chunk {
        seq: index,
        index,
        offset: index * 10,
        len: 10,
        payload: Payload::Bytes {
            data: Bytes::from(vec![index as u8; 10]),
            dictionary: Bytes::new(),
            crc32: None,
        },
    })
}

fn table(chunks: u64, max_attempts: u32) -> TaskTable {
    let mut t = TaskTable::new(max_attempts);
    for i in 0..chunks {
        t.insert(chunk(i));
    }
    t
}

fn state(t: &TaskTable, index: u64) -> State {
    t.get(index).unwrap().state.clone()
}

#[test]
fn chunks_go_out_lowest_index_first() {
    let mut t = table(3, 5);
    let now = Instant::now();
    assert_eq!(t.next_waiting(0).map(|(i, _)| i), Some(0));
    t.launch(0, id(0), now, 1);
    assert_eq!(t.next_waiting(0).map(|(i, _)| i), Some(1));
    assert_eq!(
        t.head().map(|(i, _)| i),
        Some(0),
        "the head stays until written"
    );
}

#[test]
fn an_answer_finishes_the_task() {
    let mut t = table(1, 5);
    let (a, retry_of) = t.launch(0, id(0), Instant::now(), 1);
    assert_eq!(retry_of, None);
    assert!(matches!(state(&t, 0), State::Running(ref r) if *r == a));
    let done = t.succeed(0, a.id).unwrap();
    assert_eq!((done.winner, done.losers.len()), (a, 0));
    assert!(t.is_empty());
}

#[test]
fn a_failure_queues_a_retry_that_remembers_where_it_failed() {
    let mut t = table(1, 5);
    let now = Instant::now();
    let (a, _) = t.launch(0, id(3), now, 1);
    let (back, after) = t.set_back(0, a.id, Setback::Failed).unwrap();
    assert_eq!((back, after), (a, After::Requeued));
    assert_eq!(state(&t, 0), State::Retrying { failed_on: id(3) });
    assert_eq!(t.get(0).unwrap().tried, [id(3)]);
    let (_, retry_of) = t.launch(0, id(4), now, 1);
    assert_eq!(retry_of, Some(id(3)));
    assert_eq!(t.get(0).unwrap().failures, 1);
}

#[test]
fn busy_is_queued_again_without_using_an_attempt() {
    let mut t = table(1, 1);
    let (a, _) = t.launch(0, id(0), Instant::now(), 1);
    assert_eq!(
        t.set_back(0, a.id, Setback::Busy).unwrap().1,
        After::Requeued
    );
    assert_eq!(state(&t, 0), State::Queued);
    assert_eq!(t.get(0).unwrap().failures, 0);
}

#[test]
fn max_attempts_failures_fail_the_chunk() {
    let mut t = table(1, 2);
    let now = Instant::now();
    let (a, _) = t.launch(0, id(0), now, 1);
    t.set_back(0, a.id, Setback::Failed);
    let (b, _) = t.launch(0, id(1), now, 1);
    let (_, after) = t.set_back(0, b.id, Setback::Failed).unwrap();
    assert_eq!(after, After::Exhausted { failures: 2 });
}

#[test]
fn refusals_do_not_use_attempts() {
    let mut t = table(1, 1);
    let (a, _) = t.launch(0, id(0), Instant::now(), 1);
    let (_, after) = t.set_back(0, a.id, Setback::Refused).unwrap();
    assert_eq!(after, After::Requeued);
    assert_eq!(state(&t, 0), State::Retrying { failed_on: id(0) });
}

#[test]
fn a_duplicate_runs_beside_the_original_and_the_first_answer_wins() {
    let mut t = table(1, 5);
    let now = Instant::now();
    let (first, _) = t.launch(0, id(0), now, 1);
    let (second, _) = t.launch(0, id(1), now, 1);
    assert!(second.speculative && !first.speculative);
    assert!(matches!(state(&t, 0), State::Duplicated { .. }));
    assert_eq!(t.next_waiting(0).map(|(i, _)| i), None);
    let done = t.succeed(0, second.id).unwrap();
    assert_eq!(done.winner, second);
    assert_eq!(
        done.losers,
        std::slice::from_ref(&first),
        "the original must be called off"
    );
    assert!(
        t.succeed(0, first.id).is_none(),
        "a loser's late answer counted"
    );
}

#[test]
fn a_failed_duplicate_leaves_the_other_running() {
    let mut t = table(1, 1);
    let now = Instant::now();
    let (first, _) = t.launch(0, id(0), now, 1);
    let (second, _) = t.launch(0, id(1), now, 1);
    let (_, after) = t.set_back(0, second.id, Setback::Failed).unwrap();
    // At the limit, but the original may yet answer.
    assert_eq!(after, After::StillRunning);
    assert_eq!(state(&t, 0), State::Running(first.clone()));
    let (_, after) = t.set_back(0, first.id, Setback::Failed).unwrap();
    assert_eq!(after, After::Exhausted { failures: 2 });
}

#[test]
fn calling_off_a_worker_requeues_its_chunks_without_using_attempts() {
    let mut t = table(3, 5);
    let now = Instant::now();
    let (a0, _) = t.launch(0, id(7), now, 1);
    let (_, _) = t.launch(1, id(8), now, 1);
    let (a2, _) = t.launch(2, id(7), now, 2);
    let (off, exhausted) = t.call_off(id(7));
    assert_eq!(off, [a0, a2]);
    assert!(exhausted.is_none());
    assert_eq!(state(&t, 0), State::Retrying { failed_on: id(7) });
    assert!(matches!(state(&t, 1), State::Running(_)));
    assert_eq!(state(&t, 2), State::Retrying { failed_on: id(7) });
    assert_eq!(t.get(0).unwrap().failures, 0);
}

#[test]
fn calling_off_a_duplicate_keeps_the_original() {
    let mut t = table(1, 5);
    let now = Instant::now();
    let (first, _) = t.launch(0, id(0), now, 1);
    t.launch(0, id(1), now, 1);
    let (off, _) = t.call_off(id(1));
    assert_eq!(off.len(), 1);
    assert_eq!(state(&t, 0), State::Running(first));
}

#[test]
fn a_chunk_at_max_attempts_gets_no_attempt_from_a_take_down() {
    // Failed on w0 up to the limit while its duplicate ran on w1; then w1 is taken down.
    let mut t = table(1, 1);
    let now = Instant::now();
    let (first, _) = t.launch(0, id(0), now, 1);
    t.launch(0, id(1), now, 1);
    assert_eq!(
        t.set_back(0, first.id, Setback::Failed).unwrap().1,
        After::StillRunning
    );
    let (off, exhausted) = t.call_off(id(1));
    assert_eq!(off.len(), 1);
    let exhausted = exhausted.map(|(c, failures)| (c.seq, failures));
    assert_eq!(
        exhausted,
        Some((0, 1)),
        "the chunk was given one attempt too many"
    );
}

#[test]
fn stale_answers_are_ignored() {
    let mut t = table(1, 5);
    let (a, _) = t.launch(0, id(0), Instant::now(), 1);
    t.call_off(id(0));
    assert!(t.set_back(0, a.id, Setback::Failed).is_none());
    assert!(t.succeed(0, a.id).is_none());
    assert!(
        t.set_back(9, a.id, Setback::Failed).is_none(),
        "unknown chunk"
    );
}
