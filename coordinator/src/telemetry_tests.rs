use super::*;
use prometheus_client::encoding::text::encode;

fn stats(chunks: u64, bytes_in: u64, failures: u64) -> WorkerStats {
    WorkerStats {
        chunks,
        bytes_in,
        bytes_out: bytes_in / 4,
        failures,
    }
}

fn scrape(registry: &Registry) -> String {
    let mut text = String::new();
    encode(&mut text, registry).unwrap();
    text
}

fn has(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[test]
fn a_scrape_shows_the_last_copy_summed_and_by_worker() {
    let (telemetry, registry) = Telemetry::enabled();
    telemetry.publish(|s| {
        s.chunks_planned = 10;
        s.dispatch.retries = 2;
        s.dispatch.speculative = 1;
        s.workers = vec![
            ("a:1".into(), stats(3, 300, 1)),
            ("b:2".into(), stats(4, 400, 0)),
        ];
        s.workers_up = 1;
    });
    telemetry.answered(|| "a:1".into(), Duration::from_millis(20));
    let text = scrape(&registry);
    for line in [
        "gzfleet_chunks_done_total 7",
        "gzfleet_chunks_planned 10",
        "gzfleet_input_bytes_total 700",
        "gzfleet_output_bytes_total 175",
        "gzfleet_retries_total 2",
        "gzfleet_speculative_total 1",
        "gzfleet_fleet_chunks_total{worker=\"a:1\"} 3",
        "gzfleet_fleet_chunks_total{worker=\"b:2\"} 4",
        "gzfleet_fleet_failures_total{worker=\"a:1\"} 1",
        "gzfleet_fleet_latency_seconds_count{worker=\"a:1\"} 1",
        "gzfleet_workers 2",
        "gzfleet_workers_up 1",
        "gzfleet_run_finished 0",
    ] {
        assert!(has(&text, line), "no {line:?} in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));
    telemetry.publish(|s| s.finished = true);
    assert!(has(&scrape(&registry), "gzfleet_run_finished 1"));
}

#[test]
fn without_metrics_nothing_is_kept() {
    let off = Telemetry::default();
    off.publish(|_| panic!("published with no --metrics"));
    off.answered(|| panic!("observed with no --metrics"), Duration::ZERO);
    assert_eq!(off.snapshot(), Snapshot::default());
}

#[test]
fn a_worker_known_twice_by_one_name_is_one_sample_of_summed_numbers() {
    let (telemetry, registry) = Telemetry::enabled();
    // As the fleet reports a worker that departed and came back at the same address:
    // its departed share and its present one, under one name.
    telemetry.publish(|s| {
        s.workers = vec![
            ("a:1".into(), stats(3, 300, 1)),
            ("b:2".into(), stats(4, 400, 0)),
            ("a:1".into(), stats(5, 500, 2)),
        ];
    });
    let text = scrape(&registry);
    for line in [
        "gzfleet_fleet_chunks_total{worker=\"a:1\"} 8",
        "gzfleet_fleet_input_bytes_total{worker=\"a:1\"} 800",
        "gzfleet_fleet_failures_total{worker=\"a:1\"} 3",
        "gzfleet_fleet_chunks_total{worker=\"b:2\"} 4",
        "gzfleet_chunks_done_total 12",
        "gzfleet_workers 2",
    ] {
        assert!(has(&text, line), "no {line:?} in\n{text}");
    }
    for family in [
        "gzfleet_fleet_chunks_total{",
        "gzfleet_fleet_input_bytes_total{",
        "gzfleet_fleet_failures_total{",
    ] {
        let samples = text.lines().filter(|l| l.starts_with(family)).count();
        assert_eq!(samples, 2, "{family} in\n{text}");
    }
}
