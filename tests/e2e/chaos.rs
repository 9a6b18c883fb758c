//! Chaos: several workers killed and restarted at random during a job of a few hundred
//! chunks, over several seeds; the output never changes.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::*;

#[test]
fn random_kills_and_restarts_never_change_the_output() {
    let dir = Dir::new("chaos");
    let data = text(40 << 20, 41);
    let input = dir.file("data", &data);
    let args = ["-9", "-b", "128K"];
    let reference = compress_file(&dir, &input, &args);
    assert_decodes(&dir.file("ref.gz", &reference), &data);
    for seed in [1u64, 2, 3] {
        let mut workers: Vec<Option<Worker>> = (0..4)
            .map(|_| Some(Worker::start(&["--slots", "1"])))
            .collect();
        let ports: Vec<u16> = workers.iter().map(|w| w.as_ref().unwrap().port()).collect();
        let list = ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let out = dir.join(&format!("out{seed}.gz"));
        let mut job = gzfleet()
            .args(["compress", "--wait-workers", "30s", "--workers", &list])
            .args(args)
            .arg("-o")
            .arg(&out)
            .arg(&input)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut events = 0;
        while job.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "seed {seed}: job did not finish in time"
            );
            std::thread::sleep(Duration::from_millis(100 + next() % 300));
            let i = (next() % 4) as usize;
            match workers[i].take() {
                Some(mut w) => w.kill(),
                None => {
                    let addr = format!("127.0.0.1:{}", ports[i]);
                    workers[i] = Some(Worker::start_bin(
                        "gzfleet-worker",
                        &addr,
                        &["--slots", "1"],
                    ));
                }
            }
            events += 1;
            // Never leave the fleet empty for long: bring everyone back now and then.
            if next() % 5 == 0 {
                for (j, w) in workers.iter_mut().enumerate() {
                    if w.is_none() {
                        let addr = format!("127.0.0.1:{}", ports[j]);
                        *w = Some(Worker::start_bin(
                            "gzfleet-worker",
                            &addr,
                            &["--slots", "1"],
                        ));
                    }
                }
            }
        }
        let result = job.wait_with_output().unwrap();
        assert!(
            result.status.success(),
            "seed {seed}: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        assert!(
            events >= 3,
            "seed {seed}: only {events} chaos events; make the job longer"
        );
        assert!(
            std::fs::read(&out).unwrap() == reference,
            "seed {seed}: output differs"
        );
        tool("gzip", &["-t"], &out);
    }
}
