//! What a terminal shows during a cluster run: the progress line names the input and
//! its place among several, says how many workers are up and how many retries there
//! were, and a worker lost is a line of its own above the bar. Run under script(1),
//! the bar's only way to appear outside a real terminal.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::*;

#[test]
fn the_bar_names_the_file_and_the_fleet_and_a_lost_worker_is_a_line_above_it() {
    let dir = Dir::new("display");
    let first = dir.file("first.txt", &text(1 << 20, 41));
    let second_data = text(8 << 20, 42);
    let second = dir.file("second-file.txt", &second_data);
    // Slow enough that the job outlives the bar's first second and the kill.
    let steady = Worker::start_faulty(&["--slots", "1", "--fault-slow", "30"]);
    let mut doomed = Worker::start_faulty(&["--slots", "1", "--fault-slow", "30"]);
    let line = format!(
        "'{}' compress -b 128K --workers {} '{}' '{}'",
        bin("gzfleet").display(),
        addrs(&[&steady, &doomed]),
        first.display(),
        second.display()
    );
    let mut job = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // What the terminal got so far, read as it comes.
    let screen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let (screen, mut pty) = (Arc::clone(&screen), job.stdout.take().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pty.read(&mut buf) {
                screen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    // The worker dies once the first input is complete: the second has 8 MiB left for
    // the bar to show after. Judged by the file, not by the screen: under load the
    // pseudo-terminal's output can reach us in one burst at the end, and a kill timed
    // on it came after the job (seen in CI).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("first.txt.gz").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        job.try_wait().unwrap().is_none(),
        "the job ended before the kill: make the second input larger"
    );
    doomed.kill();
    let status = job.wait().unwrap();
    reader.join().unwrap();
    let shown = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    assert_eq!(status.code(), Some(0), "{shown}");
    assert_decodes(&dir.join("second-file.txt.gz"), &second_data);

    // (Whether the bar drew "workers 2/2 up" before the kill depends on when its
    // first draw came; "1/2" after the loss below shows the fleet count all the same.)
    let lost = format!("gzfleet: worker {} out of rotation", doomed.addr);
    let at = shown
        .find(&lost)
        .unwrap_or_else(|| panic!("no line for the lost worker:\n{shown}"));
    // Its own line: the bar was cleared first (an erase-line escape, or a line start),
    // not written over or after.
    assert!(
        at == 0 || matches!(shown.as_bytes()[at - 1], b'\n' | b'\r' | b'K' | b'A'),
        "{:?}",
        &shown[at.saturating_sub(40)..at + lost.len()]
    );
    // After it the bar counts one worker up and the chunks it held retried, and names
    // the input being written with its place among the two.
    let after = &shown[at..];
    assert!(after.contains("workers 1/2 up, "), "{after}");
    assert!(after.contains(" retr"), "{after}");
    assert!(after.contains("second-file.txt 2/2 "), "{after}");
}
