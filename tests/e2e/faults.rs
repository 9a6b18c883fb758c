//! Workers that die, hang, crawl or lie: the job still finishes, with the bytes of a
//! run where nothing went wrong.

use std::time::{Duration, Instant};

use crate::util::*;

#[test]
fn a_worker_killed_mid_job() {
    let c = case("kill-one", 32 << 20, &["-9", "-b", "128K"]);
    let ws = [
        Worker::start(&["--slots", "1"]),
        Worker::start(&["--slots", "1"]),
    ];
    let mut victim = Worker::start(&["--slots", "1", "--metrics", "127.0.0.1:0"]);
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let list = addrs(&[&ws[0], &ws[1], &victim]);
    let mut job = start_job(
        &c.input,
        &out,
        &stats,
        &["-9", "-b", "128K", "--workers", &list],
    );
    // Killed once it has answered a chunk and holds another.
    wait_until_busy(&victim, 1.0);
    assert!(
        job.try_wait().unwrap().is_none(),
        "job ended before the kill: make it longer"
    );
    victim.kill();
    let r = finish(job);
    assert_ok!(r);
    assert!(
        std::fs::read(&out).unwrap() == c.reference,
        "output differs after a kill"
    );
    tool("gzip", &["-t"], &out);
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(
        json_number(&json, "failed_attempts") >= 1,
        "the kill went unnoticed: {json}"
    );
    // Said as what it is: a worker that answered and then closed went away (or, had it
    // nothing in flight, refuses connections); a TLS mismatch fails the first contact.
    let lost = format!("worker {} out of rotation: ", victim.addr);
    assert!(r.stderr.contains(&lost), "{}", r.stderr);
    assert!(!r.stderr.contains("TLS"), "{}", r.stderr);
}

#[test]
fn a_hung_worker() {
    let c = case("hang", 6 << 20, &["-b", "128K"]);
    // Its first call: the one every worker gets, however the others fare.
    let hung = Worker::start_faulty(&["--slots", "1", "--fault-hang-on", "1"]);
    let fine = Worker::start(&["--slots", "1"]);
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let started = Instant::now();
    let job = start_job(
        &c.input,
        &out,
        &stats,
        &["-b", "128K", "--workers", &addrs(&[&hung, &fine])],
    );
    let r = finish(job);
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == c.reference);
    let json = std::fs::read_to_string(&stats).unwrap();
    // Speculation, not the 5 s minimum deadline, rescued the chunk.
    assert!(
        json_number(&json, "speculative_wins") >= 1,
        "the hung chunk was not duplicated: {json}"
    );
    assert_eq!(json_number(&json, "timeouts"), 0, "{json}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_twenty_times_slower_worker() {
    let c = case("slow", 8 << 20, &["-b", "128K"]);
    let slow = Worker::start_faulty(&["--slots", "1", "--fault-slow", "20"]);
    let fast = [
        Worker::start(&["--slots", "1"]),
        Worker::start(&["--slots", "1"]),
    ];
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let list = addrs(&[&slow, &fast[0], &fast[1]]);
    let r = finish(start_job(
        &c.input,
        &out,
        &stats,
        &["-b", "128K", "--workers", &list],
    ));
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == c.reference);
    let json = std::fs::read_to_string(&stats).unwrap();
    let (s, f) = (
        worker_chunks(&json, &slow.addr),
        worker_chunks(&json, &fast[0].addr),
    );
    assert!(
        s < f,
        "the slow worker did as much as a fast one ({s} vs {f}): {json}"
    );
}

#[test]
fn corrupt_deflate_with_a_right_crc_is_caught_by_verify() {
    let c = case("verify", 3 << 20, &["-b", "128K"]);
    let liar = Worker::start_faulty(&["--slots", "1", "--fault-corrupt-deflate-from", "1"]);
    let honest = Worker::start(&["--slots", "1"]);
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let list = addrs(&[&liar, &honest]);
    let r = finish(start_job(
        &c.input,
        &out,
        &stats,
        &["-b", "128K", "--verify", "--workers", &list],
    ));
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == c.reference);
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(json_number(&json, "wrong_answers") >= 1, "{json}");
    assert_eq!(
        worker_chunks(&json, &liar.addr),
        0,
        "a corrupt chunk was accepted: {json}"
    );

    // Alone, the liar makes the job fail rather than write bad data.
    let lonely = c.dir.join("lonely.gz");
    let r = finish(start_job(
        &c.input,
        &lonely,
        &stats,
        &[
            "-b",
            "128K",
            "--verify",
            "--max-attempts",
            "2",
            "--workers",
            &liar.addr,
        ],
    ));
    assert_fails!(r, 1, "failed --verify");
    assert!(!lonely.exists());
}

#[test]
fn an_answer_longer_than_its_chunk_allows_is_refused_unread() {
    let c = case("overlong", 3 << 20, &["-b", "128K"]);
    let (liar, json) = beside_an_honest_worker(&c, &["--fault-overlong-from", "1"]);
    assert_eq!(worker_chunks(&json, &liar.addr), 0, "{json}");
    let stats = c.dir.join("stats.json");

    // Alone, it fails the job, saying why.
    let lonely = c.dir.join("lonely.gz");
    let r = finish(start_job(
        &c.input,
        &lonely,
        &stats,
        &["-b", "128K", "--max-attempts", "2", "--workers", &liar.addr],
    ));
    assert_fails!(r, 1, "refused unread: a message of");
    assert!(!lonely.exists());
}

#[test]
fn a_wrong_crc_is_caught_without_verify() {
    let c = case("crc", 3 << 20, &["-b", "128K"]);
    let (_, json) = beside_an_honest_worker(&c, &["--fault-wrong-crc-from", "2"]);
    assert!(json_number(&json, "reassignments") >= 1, "{json}");
}

/// Runs `c` on a faulty worker started with `fault` beside an honest one; asserts the
/// output is the reference and at least one answer was caught wrong. Returns the
/// faulty worker and the run's --stats-json.
fn beside_an_honest_worker(c: &Case, fault: &[&str]) -> (Worker, String) {
    let liar = Worker::start_faulty(&[&["--slots", "1"], fault].concat());
    let honest = Worker::start(&["--slots", "1"]);
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let r = finish(start_job(
        &c.input,
        &out,
        &stats,
        &["-b", "128K", "--workers", &addrs(&[&liar, &honest])],
    ));
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == c.reference);
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(json_number(&json, "wrong_answers") >= 1, "{json}");
    (liar, json)
}

/// Restarts a killed worker on its old port.
fn restart(port: u16) -> Worker {
    Worker::start_bin(
        "gzfleet-worker",
        &format!("127.0.0.1:{port}"),
        &["--slots", "1"],
    )
}

#[test]
fn all_workers_killed_and_one_back_within_the_wait() {
    let c = case("all-back", 32 << 20, &["-9", "-b", "128K"]);
    let mut ws = [
        Worker::start(&["--slots", "1"]),
        Worker::start(&["--slots", "1"]),
    ];
    let port = ws[0].port();
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let list = addrs(&[&ws[0], &ws[1]]);
    let mut job = start_job(
        &c.input,
        &out,
        &stats,
        &[
            "-9",
            "-b",
            "128K",
            "--wait-workers",
            "30s",
            "--workers",
            &list,
        ],
    );
    std::thread::sleep(Duration::from_millis(250));
    assert!(
        job.try_wait().unwrap().is_none(),
        "job ended before the kill: make it longer"
    );
    ws.iter_mut().for_each(Worker::kill);
    std::thread::sleep(Duration::from_millis(1500));
    let _back = restart(port);
    let r = finish(job);
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == c.reference);
}

#[test]
fn all_workers_gone_fails_resumably_and_resume_finishes_the_job() {
    let c = case("all-gone", 32 << 20, &["-9", "-b", "128K"]);
    let mut w = Worker::start(&["--slots", "2"]);
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let args = [
        "-9",
        "-b",
        "128K",
        "--wait-workers",
        "1s",
        "--sync-interval",
        "50ms",
    ];
    let mut job = start_job(
        &c.input,
        &out,
        &stats,
        &[&args[..], &["--workers", &w.addr]].concat(),
    );
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        job.try_wait().unwrap().is_none(),
        "job ended before the kill: make it longer"
    );
    w.kill();
    let r = finish(job);
    assert_fails!(r, 1, "no worker answered for 1s (--wait-workers)");
    assert!(r.stderr.contains("--resume"), "{}", r.stderr);
    assert!(!out.exists());
    assert!(
        c.dir.join("out.gz.gzfleet-partial").exists()
            && c.dir.join("out.gz.gzfleet-journal").exists()
    );

    let again = Worker::start(&["--slots", "2"]);
    let r = finish(start_job(
        &c.input,
        &out,
        &stats,
        &[&args[..], &["--resume", "-v", "--workers", &again.addr]].concat(),
    ));
    assert_ok!(r);
    assert!(r.stderr.contains("resuming after chunk"), "{}", r.stderr);
    assert!(std::fs::read(&out).unwrap() == c.reference);
    assert!(
        !c.dir.join("out.gz.gzfleet-partial").exists()
            && !c.dir.join("out.gz.gzfleet-journal").exists()
    );
}

#[test]
fn a_hang_with_nobody_to_duplicate_on_is_cut_by_the_deadline() {
    let c = case("deadline", 2 << 20, &["-b", "128K"]);
    let hung = Worker::start_faulty(&["--slots", "2", "--fault-hang-on", "4"]);
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let r = finish(start_job(
        &c.input,
        &out,
        &stats,
        &["-b", "128K", "--workers", &hung.addr],
    ));
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == c.reference);
    let json = std::fs::read_to_string(&stats).unwrap();
    assert_eq!(json_number(&json, "timeouts"), 1, "{json}");
}

#[test]
fn a_worker_added_to_the_workers_file_mid_job_gets_work() {
    // Discovery is re-read every 2 s: the job must outlast that.
    let c = case("grow", 64 << 20, &["-9", "-b", "128K"]);
    let first = Worker::start(&["--slots", "1"]);
    let list = c
        .dir
        .file("workers", format!("{}\n", first.addr).as_bytes());
    let (out, stats) = (c.dir.join("out.gz"), c.dir.join("stats.json"));
    let mut job = start_job(
        &c.input,
        &out,
        &stats,
        &["-9", "-b", "128K", "--workers-file", list.to_str().unwrap()],
    );
    let second = Worker::start(&["--slots", "1"]);
    std::fs::write(&list, format!("{}\n{}\n", first.addr, second.addr)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        job.try_wait().unwrap().is_none(),
        "job ended too soon to grow"
    );
    let r = finish(job);
    assert_ok!(r);
    assert!(std::fs::read(&out).unwrap() == c.reference);
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(
        worker_chunks(&json, &second.addr) > 0,
        "the new worker got no work: {json}"
    );
}
