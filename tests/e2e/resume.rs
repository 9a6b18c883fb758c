//! The coordinator killed at random points (SIGKILL) and resumed with --resume: the
//! same bytes as an uninterrupted run; resuming anything else is refused.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

const ARGS: [&str; 8] = [
    "-9",
    "-b",
    "128K",
    "-p",
    "1",
    "--sync-interval",
    "20ms",
    "-q",
];

fn start(input: &Path, out: &Path, extra: &[&str]) -> Child {
    gzfleet()
        .arg("compress")
        .args(ARGS)
        .args(extra)
        .arg("-o")
        .arg(out)
        .arg(input)
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting gzfleet")
}

/// Kills a run after `after`, insisting it was still running then.
fn kill_after(mut child: Child, after: Duration) {
    std::thread::sleep(after);
    assert!(
        child.try_wait().unwrap().is_none(),
        "finished within {after:?}: nothing to resume"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

fn resume(input: &Path, out: &Path, extra: &[&str]) -> Run {
    run(gzfleet()
        .arg("compress")
        .args(ARGS)
        .args(["--resume", "-v"])
        .args(extra)
        .arg("-o")
        .arg(out)
        .arg(input))
}

#[test]
fn killed_at_random_points_then_resumed_gives_identical_output() {
    let dir = Dir::new("resume-random");
    let input = dir.file("data", &text(24 << 20, 31));
    let started = Instant::now();
    let reference = compress_file(&dir, &input, &ARGS);
    let full = started.elapsed();
    let mut seed = 0x2545F4914F6CDD1Du64;
    for round in 0..4 {
        let out = dir.join(&format!("out{round}.gz"));
        // One or two kills at pseudo-random points of the run, then a resume to the end.
        for kill in 0..=(round % 2) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // The first kill lands in the first 60% of the work; a second one (on
            // the resumed run) early in what is left.
            let r = (seed % 1000) as f64 / 1000.0;
            let at = full.mul_f64(if kill == 0 {
                0.1 + 0.5 * r
            } else {
                0.05 + 0.15 * r
            });
            let extra: &[&str] = if kill == 0 { &[] } else { &["--resume"] };
            kill_after(start(&input, &out, extra), at);
            assert!(!out.exists(), "a killed run left a complete-looking output");
        }
        let r = resume(&input, &out, &[]);
        assert_ok!(r);
        // -v after -q wins, as in gzip: the run says where it picked up.
        assert!(
            r.stderr.contains("resuming after chunk"),
            "round {round}: {}",
            r.stderr
        );
        assert!(
            std::fs::read(&out).unwrap() == reference,
            "round {round}: resumed output differs\n{}",
            r.stderr
        );
        assert!(!dir.join(&format!("out{round}.gz.gzfleet-journal")).exists());
    }
}

#[test]
fn resume_refuses_other_parameters_and_a_changed_input() {
    let dir = Dir::new("resume-refuse");
    let data = text(24 << 20, 32);
    let input = dir.file("data", &data);
    let out = dir.join("out.gz");
    let started = Instant::now();
    let reference = compress_file(&dir, &input, &ARGS);
    kill_after(start(&input, &out, &[]), started.elapsed() / 3);

    let other_level = run(gzfleet()
        .args(["compress", "-6", "-b", "128K", "--resume", "-o"])
        .arg(&out)
        .arg(&input));
    assert_fails!(
        other_level,
        1,
        "cannot resume: the interrupted run used level 9, this one level 6"
    );
    let other_block = resume(&input, &out, &["-b", "256K"]);
    assert_fails!(other_block, 1, "block size");

    // Same size, same mtime, different bytes: only the CRC check can tell.
    let mtime = std::fs::metadata(&input).unwrap().modified().unwrap();
    let mut changed = data.clone();
    for i in (0..changed.len()).step_by(4096) {
        changed[i] ^= 0x55;
    }
    std::fs::write(&input, &changed).unwrap();
    set_mtime(&input, mtime);
    let r = resume(&input, &out, &[]);
    assert_fails!(r, 1, "changed since the interrupted run");

    std::fs::write(&input, &data).unwrap();
    let touched = resume(&input, &out, &[]);
    assert_fails!(
        touched,
        1,
        "changed since the interrupted run (size or modification time)"
    );
    set_mtime(&input, mtime);
    let ok = resume(&input, &out, &[]);
    assert_ok!(ok);
    assert!(ok.stderr.contains("resuming after chunk"), "{}", ok.stderr);
    assert!(std::fs::read(&out).unwrap() == reference);
}

#[test]
fn sigint_keeps_a_resumable_partial() {
    let dir = Dir::new("resume-sigint");
    let input = dir.file("data", &text(24 << 20, 33));
    let out = dir.join("out.gz");
    let started = Instant::now();
    let reference = compress_file(&dir, &input, &ARGS);
    let full = started.elapsed();
    let child = start(&input, &out, &[]);
    std::thread::sleep(full / 3);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let r = child.wait_with_output().unwrap();
    assert_eq!(
        r.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("interrupted") && stderr.contains("--resume"),
        "{stderr}"
    );
    let resumed = resume(&input, &out, &[]);
    assert_ok!(resumed);
    assert!(
        resumed.stderr.contains("resuming after chunk"),
        "{}",
        resumed.stderr
    );
    assert!(std::fs::read(&out).unwrap() == reference);
}

/// Kills a run a third of the way in, leaving a partial output and its journal.
fn interrupted_run(dir: &Dir, seed: u64) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let input = dir.file("data", &text(24 << 20, seed));
    let out = dir.join("out.gz");
    let started = Instant::now();
    let reference = compress_file(dir, &input, &ARGS);
    kill_after(start(&input, &out, &["-f"]), started.elapsed() / 3);
    assert!(dir.join("out.gz.gzfleet-partial").exists());
    assert!(dir.join("out.gz.gzfleet-journal").exists());
    (input, out, reference)
}

#[test]
fn resume_never_replaces_an_existing_output_without_force() {
    let dir = Dir::new("resume-exists");
    let (input, out, reference) = interrupted_run(&dir, 34);
    std::fs::write(&out, b"precious").unwrap();
    let r = resume(&input, &out, &[]);
    assert_fails!(r, 2, "out.gz already exists; use -f to overwrite");
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    assert!(
        dir.join("out.gz.gzfleet-partial").exists(),
        "the refusal lost the interrupted run's progress"
    );
    let forced = resume(&input, &out, &["-f"]);
    assert_ok!(forced);
    assert!(
        forced.stderr.contains("resuming after chunk"),
        "{}",
        forced.stderr
    );
    assert!(std::fs::read(&out).unwrap() == reference);
}

#[test]
fn a_journal_whose_partial_output_is_gone_starts_over() {
    let dir = Dir::new("resume-no-partial");
    let (input, out, reference) = interrupted_run(&dir, 35);
    std::fs::remove_file(dir.join("out.gz.gzfleet-partial")).unwrap();
    let r = resume(&input, &out, &[]);
    assert_ok!(r);
    assert!(!r.stderr.contains("resuming after chunk"), "{}", r.stderr);
    assert!(
        r.stderr.contains("is gone; starting from the beginning"),
        "{}",
        r.stderr
    );
    assert!(std::fs::read(&out).unwrap() == reference);
    assert_eq!(dir.names(), ["data", "out.gz"]);
}

#[test]
fn a_partial_output_without_its_journal_is_kept_unless_forced() {
    let dir = Dir::new("resume-no-journal");
    let (input, out, reference) = interrupted_run(&dir, 36);
    let partial = dir.join("out.gz.gzfleet-partial");
    std::fs::remove_file(dir.join("out.gz.gzfleet-journal")).unwrap();
    let before = std::fs::read(&partial).unwrap();
    let r = resume(&input, &out, &[]);
    assert_fails!(r, 1, "has no journal");
    assert_eq!(
        std::fs::read(&partial).unwrap(),
        before,
        "the partial was touched"
    );
    let forced = resume(&input, &out, &["-f"]);
    assert_ok!(forced);
    assert!(std::fs::read(&out).unwrap() == reference);
}

/// A requeued batch (Slurm's --requeue, a rerun `-r --resume`) meets the outputs its
/// first run finished: those are done, not in the way (exit 0, untouched), while an
/// output that is not this input's still needs -f.
#[test]
fn resume_passes_over_outputs_already_finished_from_the_same_input() {
    let dir = Dir::new("resume-finished");
    let tree = dir.join("tree");
    std::fs::create_dir(&tree).unwrap();
    let (a, b) = (tree.join("a"), tree.join("b"));
    std::fs::write(&a, text(1 << 20, 37)).unwrap();
    std::fs::write(&b, text(1 << 20, 38)).unwrap();
    let batch = |extra: &[&str]| {
        run(gzfleet()
            .arg("compress")
            .args(ARGS)
            .args(["-r", "-v"])
            .args(extra)
            .arg(&tree))
    };
    assert_ok!(batch(&[]));
    let finished = std::fs::read(tree.join("a.gz")).unwrap();
    std::fs::remove_file(tree.join("b.gz")).unwrap();
    let again = batch(&["--resume"]);
    assert_ok!(again);
    assert!(
        again.stderr.contains("a.gz: already complete"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read(tree.join("a.gz")).unwrap(), finished);
    assert_decodes(&tree.join("b.gz"), &std::fs::read(&b).unwrap());

    // b changed since its output was made: its output is not finished from it.
    std::fs::write(&b, text(1 << 20, 39)).unwrap();
    let changed = batch(&["--resume"]);
    assert_fails!(changed, 2, "b.gz already exists; use -f to overwrite");
}
