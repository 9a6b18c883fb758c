//! How the coordinator treats workers that stop answering, crawl, or push back, and
//! what it tells the user about them: real processes frozen with SIGSTOP, slowed by the
//! fault-injection worker, or sharing one worker between two coordinators.

use std::time::Duration;

use crate::util::*;

fn stats_of(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).expect("reading --stats-json")
}

/// Sends SIGSTOP/SIGCONT to a worker: frozen as a paused container is, its kernel
/// still holds the connection open but nothing answers.
fn freeze(w: &Worker, frozen: bool) {
    w.signal(if frozen { libc::SIGSTOP } else { libc::SIGCONT });
}

#[test]
fn a_frozen_worker_is_taken_out_after_a_handful_of_duplicates() {
    let c = case("frozen", 32 << 20, &["-9", "-b", "128K"]);
    // Alone at first, so it certainly holds chunks when it freezes; a healthy worker
    // joins through the workers file (read every 2 s) right after.
    let frozen = Worker::start(&["--slots", "1"]);
    let fine = Worker::start(&["--slots", "1"]);
    let list = c
        .dir
        .file("workers", format!("{}\n", frozen.addr).as_bytes());
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let mut job = start_job(
        &c.input,
        &out,
        &stats,
        &["-9", "-b", "128K", "--workers-file", list.to_str().unwrap()],
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        job.try_wait().unwrap().is_none(),
        "job ended before the freeze"
    );
    freeze(&frozen, true);
    std::fs::write(&list, format!("{}\n{}\n", frozen.addr, fine.addr)).unwrap();
    let r = finish(job);
    freeze(&frozen, false);
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == c.reference);
    let json = stats_of(&stats);
    // Before: every chunk it was fed was rescued by a duplicate, for the whole job.
    let duplicates = json_number(&json, "speculative");
    assert!(duplicates <= 4, "{duplicates} duplicates spent: {json}");
    assert!(
        r.stderr
            .contains(&format!("worker {} out of rotation", frozen.addr)),
        "the frozen worker was never taken out:\n{}",
        r.stderr
    );
    assert!(worker_chunks(&json, &fine.addr) > 0, "{json}");
}

#[test]
fn a_silent_worker_is_noticed_by_keepalive_before_any_deadline() {
    // Alone, so no duplicate can reveal it: only keepalive or a deadline can.
    let c = case("keepalive", 32 << 20, &["-9", "-b", "128K"]);
    let w = Worker::start(&["--slots", "1"]);
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let mut job = start_job(
        &c.input,
        &out,
        &stats,
        &["-9", "-b", "128K", "--workers", &w.addr],
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        job.try_wait().unwrap().is_none(),
        "job ended before the freeze"
    );
    freeze(&w, true);
    // Keepalive notices within 3 s; the shortest deadline is 5 s. Thawed in between,
    // a coordinator without keepalive would never have noticed anything.
    std::thread::sleep(Duration::from_millis(4500));
    freeze(&w, false);
    let r = finish(job);
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == c.reference);
    assert!(
        r.stderr
            .contains(&format!("worker {} out of rotation", w.addr)),
        "silence went unnoticed:\n{}",
        r.stderr
    );
    let json = stats_of(&stats);
    assert_eq!(
        json_number(&json, "timeouts"),
        0,
        "noticed by a deadline: {json}"
    );
}

#[test]
fn a_slow_worker_gets_little_and_costs_few_duplicates() {
    let c = case("late", 32 << 20, &["-b", "128K"]);
    let slow = Worker::start_faulty(&["--slots", "1", "--fault-slow", "20"]);
    let fast = Worker::start(&["--slots", "1"]);
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let r = finish(start_job(
        &c.input,
        &out,
        &stats,
        &["-b", "128K", "--workers", &addrs(&[&slow, &fast])],
    ));
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == c.reference);
    let json = stats_of(&stats);
    // 256 chunks. Fed whenever it had room, it took about one in ten and had most
    // of them duplicated; now it only gets what it would finish first.
    let taken = worker_chunks(&json, &slow.addr);
    assert!(taken <= 8, "the slow worker took {taken} chunks: {json}");
    let duplicates = json_number(&json, "speculative");
    assert!(duplicates <= 4, "{duplicates} duplicates spent: {json}");
}

#[test]
fn a_full_queue_is_backpressure_for_coordinators_sharing_a_worker() {
    let c = case("shared", 16 << 20, &["-9", "-b", "128K"]);
    // One slot and one queue place: two coordinators keeping it fed overflow it.
    let w = Worker::start(&["--slots", "1", "--queue", "1"]);
    let args = [
        "-9",
        "-b",
        "128K",
        "--max-attempts",
        "1",
        "--workers",
        &w.addr,
    ];
    let (out1, stats1) = (c.dir.join("one.gz"), c.dir.join("one.json"));
    let (out2, stats2) = (c.dir.join("two.gz"), c.dir.join("two.json"));
    let one = start_job(&c.input, &out1, &stats1, &args);
    let two = start_job(&c.input, &out2, &stats2, &args);
    let (r1, r2) = (finish(one), finish(two));
    // Before: RESOURCE_EXHAUSTED counted as a failed attempt, so with
    // --max-attempts 1 a coordinator gave up on a healthy worker.
    assert_ok!(r1);
    assert_ok!(r2);
    assert!(std::fs::read(&out1).unwrap() == c.reference);
    assert!(std::fs::read(&out2).unwrap() == c.reference);
    let (j1, j2) = (stats_of(&stats1), stats_of(&stats2));
    let busy = json_number(&j1, "busy") + json_number(&j2, "busy");
    assert!(
        busy > 0,
        "the worker never pushed back; the test proved nothing"
    );
    assert_eq!(json_number(&j1, "failed_attempts"), 0, "{j1}");
    assert_eq!(json_number(&j2, "failed_attempts"), 0, "{j2}");
}

#[test]
fn losing_and_regaining_a_worker_is_said_at_the_default_verbosity() {
    let c = case("said", 32 << 20, &["-9", "-b", "128K"]);
    // Alone, so it certainly holds chunks when it dies.
    let mut victim = Worker::start(&["--slots", "1"]);
    let port = victim.port();
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let mut job = start_job(
        &c.input,
        &out,
        &stats,
        &["-9", "-b", "128K", "--workers", &victim.addr],
    );
    std::thread::sleep(Duration::from_millis(250));
    assert!(
        job.try_wait().unwrap().is_none(),
        "job ended before the kill"
    );
    victim.kill();
    std::thread::sleep(Duration::from_millis(300));
    let _back = Worker::start_bin(
        "gzfleet-worker",
        &format!("127.0.0.1:{port}"),
        &["--slots", "1"],
    );
    let r = finish(job);
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == c.reference);
    let addr = format!("127.0.0.1:{port}");
    let said = |what: &str| {
        let prefix = format!("gzfleet: worker {addr} {what}");
        r.stderr.lines().filter(|l| l.starts_with(&prefix)).count()
    };
    assert_eq!(said("out of rotation"), 1, "{}", r.stderr);
    assert_eq!(said("is back"), 1, "{}", r.stderr);
}

#[test]
fn dead_workers_at_start_are_named_unless_quiet() {
    let dir = Dir::new("dead-at-start");
    let data = text(1 << 20, 61);
    let input = dir.file("data", &data);
    let live = Worker::start(&[]);
    let dead = format!("127.0.0.1:{}", free_port());
    let list = format!("{},{dead}", live.addr);
    let r = run(gzfleet()
        .args(["compress", "-c", "--workers", &list])
        .arg(&input));
    assert_ok!(r);
    let named: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with(&format!("gzfleet: worker {dead}: ")))
        .collect();
    assert_eq!(named.len(), 1, "{}", r.stderr);
    assert!(named[0].contains("Connection refused"), "{}", named[0]);
    let quiet = run(gzfleet()
        .args(["compress", "-q", "-c", "--workers", &list])
        .arg(&input));
    assert_ok!(quiet);
    assert_eq!(quiet.stderr, "", "-q still printed");
}
