//! Membership under discovery churn, and the fleet's bookkeeping around it.

use super::*;

fn fleet_of(addrs: &[&str]) -> Fleet {
    let needs = Needs {
        block: 1 << 20,
        engine: gzfleet_worker::engine::Engine::ZlibRs,
        window: false,
        writes: false,
    };
    let mut f = Fleet::empty(Some(Discovery::default()), needs, true);
    let now = Instant::now();
    for a in addrs {
        f.add(a, now).unwrap();
    }
    f
}

fn names(f: &Fleet) -> Vec<String> {
    f.workers().map(|(_, w)| w.name().to_string()).collect()
}

fn list(addrs: &[&str]) -> Vec<String> {
    addrs.iter().map(|a| a.to_string()).collect()
}

#[tokio::test]
async fn membership_follows_discovery_instead_of_only_growing() {
    let mut f = fleet_of(&["10.0.0.1:7070", "10.0.0.2:7070"]);
    let now = Instant::now();
    // A headless service whose pods are replaced over and over.
    for round in 3..50 {
        let fresh = format!("10.0.0.{round}:7070");
        let changes = f.rediscovered(std::slice::from_ref(&fresh), true, now);
        assert!(
            changes.contains(&Change::Discovered(fresh.clone())),
            "{changes:?}"
        );
        assert_eq!(names(&f), vec![fresh], "round {round}");
    }
}

#[tokio::test]
async fn a_retired_worker_stays_until_its_attempts_end_and_keeps_its_share() {
    let mut f = fleet_of(&["10.0.0.1:7070", "10.0.0.2:7070"]);
    let now = Instant::now();
    let (gone, _) = f
        .workers()
        .next()
        .map(|(id, w)| (id, w.name().to_string()))
        .unwrap();
    f.started(gone);
    let changes = f.rediscovered(&list(&["10.0.0.2:7070"]), true, now);
    assert_eq!(changes, vec![Change::Retired("10.0.0.1:7070".into())]);
    assert_eq!(f.workers().count(), 2, "dropped with an attempt in flight");
    // Its attempt answers after it was retired, in the dispatcher's order: the
    // answer is recorded, the attempt ends, then the fleet is pruned.
    f.answered(
        gone,
        Sample {
            bytes_in: 100,
            bytes_out: 10,
            elapsed: Duration::from_millis(5),
            depth: 1,
        },
        now,
    );
    f.ended(gone);
    assert_eq!(f.name(gone), "10.0.0.1:7070", "named before it is pruned");
    f.prune();
    assert_eq!(names(&f), ["10.0.0.2:7070"]);
    let reports = f.reports();
    let share = reports.iter().find(|r| r.name == "10.0.0.1:7070").unwrap();
    assert_eq!(share.stats.chunks, 1, "its work vanished from the report");
}

#[tokio::test]
async fn a_discovery_answer_with_errors_retires_nobody() {
    let mut f = fleet_of(&["10.0.0.1:7070", "10.0.0.2:7070"]);
    // One DNS name failed to resolve this time: its workers are missing from the list.
    let changes = f.rediscovered(
        &list(&["10.0.0.2:7070", "10.0.0.3:7070"]),
        false,
        Instant::now(),
    );
    assert_eq!(changes, vec![Change::Discovered("10.0.0.3:7070".into())]);
    assert_eq!(
        names(&f),
        ["10.0.0.1:7070", "10.0.0.2:7070", "10.0.0.3:7070"]
    );
}

#[tokio::test]
async fn an_empty_discovery_answer_changes_nothing() {
    let mut f = fleet_of(&["10.0.0.1:7070"]);
    assert!(f.rediscovered(&[], true, Instant::now()).is_empty());
    assert_eq!(names(&f), ["10.0.0.1:7070"]);
}

#[tokio::test]
async fn discovery_runs_one_at_a_time_and_again_after_each_answer() {
    let mut f = fleet_of(&["10.0.0.1:7070"]);
    let t0 = Instant::now();
    assert!(f.discovery_due(t0).is_none(), "due before its interval");
    let t1 = t0 + REDISCOVER_EVERY;
    assert!(f.discovery_due(t1).is_some());
    assert!(
        f.discovery_due(t1 + REDISCOVER_EVERY).is_none(),
        "two at once"
    );
    f.rediscovered(&list(&["10.0.0.1:7070"]), true, t1);
    assert!(f.discovery_due(t1 + REDISCOVER_EVERY).is_some());
}

#[test]
fn changes_read_as_one_line_each() {
    let up = Change::Up {
        worker: "h:1".into(),
        slots: 2,
        was: "unreachable: reset".into(),
        downs: 1,
    };
    assert_eq!(
        up.to_string(),
        "worker h:1 is back (2 slots; was: unreachable: reset)"
    );
    assert!(up.is_notable());
    assert!(!Change::Discovered("h:2".into()).is_notable());
    // A worker that keeps flapping is said a few times, then only with -v.
    let down = |downs| Change::Down {
        worker: "h:1".into(),
        reason: "reset".into(),
        downs,
    };
    assert_eq!(down(1).to_string(), "worker h:1 out of rotation: reset");
    assert!(down(SAID_DOWNS).is_notable());
    assert!(!down(SAID_DOWNS + 1).is_notable());
}
