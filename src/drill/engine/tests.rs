use super::{Activity, Drill, DrillEvent, Ending};
use crate::drill::condition::WriteCheck;
use crate::drill::spec::Fault;
use crate::drill::testing::{down, link_down, primary, replica, time, topo, N};

fn drill(id: &str) -> Drill {
    Drill::new(crate::drill::find(id).unwrap(), None)
}

const KEPT: WriteCheck = WriteCheck {
    acknowledged: 100,
    lost: 0,
};

fn kinds(events: &[DrillEvent]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match e {
            DrillEvent::StepStarted { .. } => "step_started",
            DrillEvent::FaultDue { .. } => "fault_due",
            DrillEvent::Hint { .. } => "hint",
            DrillEvent::StepDone { .. } => "step_done",
            DrillEvent::Over { .. } => "over",
        })
        .collect()
}

/// Starts master-crash and hands out every fault of its first step (n3 frozen at 0 s; n1
/// filled, n1 killed and n3 thawed at 3 s), each reported done at once.
/// master-crash's group after the kill: n1 down, both replicas' links down.
fn crashed_nodes() -> [N; 3] {
    [
        down(primary("n1")),
        link_down(replica("n2", "n1")),
        link_down(replica("n3", "n1")),
    ]
}

fn master_crash_crashed() -> Drill {
    let mut d = drill("master-crash");
    let healthy = [primary("n1"), replica("n2", "n1"), replica("n3", "n1")];
    let first = d.update(&topo(0, &healthy), time(0));
    assert_eq!(kinds(&first), ["step_started", "fault_due"]);
    d.fault_done(time(0));
    let due = d.update(&topo(3, &healthy), time(3));
    let faults: Vec<String> = due
        .iter()
        .map(|e| match e {
            DrillEvent::FaultDue { fault, .. } => fault.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        faults,
        ["50000 keys filled into n1", "n1 killed", "n3 thawed"]
    );
    assert!(
        matches!(&due[1], DrillEvent::FaultDue { fault: Fault::Kill { node }, .. } if node == "n1")
    );
    for _ in &due {
        d.fault_done(time(3));
    }
    d
}

#[test]
fn master_crash_played_well_passes_with_time_to_detect() {
    let mut d = master_crash_crashed();
    d.writes(KEPT);
    let crashed = crashed_nodes();
    assert!(d.update(&topo(4, &crashed), time(4)).is_empty());
    d.action(
        Activity::Started {
            action: "promote".into(),
            summary: "promote n2 in place of n1".into(),
        },
        time(7),
    );
    let promoted = [down(primary("n1")), primary("n2"), replica("n3", "n2")];
    assert!(
        d.update(&topo(8, &promoted), time(8)).is_empty(),
        "one poll is not enough"
    );
    let next = d.update(&topo(9, &promoted), time(9));
    assert_eq!(kinds(&next), ["step_done", "step_started", "fault_due"]);
    d.fault_done(time(9));
    let stale = [primary("n1"), primary("n2"), replica("n3", "n2")];
    assert!(d.update(&topo(10, &stale), time(10)).is_empty());
    assert_eq!(d.waiting_for()[0], "2 primaries (n1, n2)");
    d.action(
        Activity::Started {
            action: "rejoin".into(),
            summary: "rejoin n1".into(),
        },
        time(12),
    );
    let rejoined = [replica("n1", "n2"), primary("n2"), replica("n3", "n2")];
    d.update(&topo(13, &rejoined), time(13));
    let end = d.update(&topo(14, &rejoined), time(14));
    assert_eq!(kinds(&end), ["step_done", "over"]);
    let r = d.report(Some(KEPT));
    assert!(r.passed, "{r:#?}");
    assert_eq!(
        r.time_to_detect_ms,
        Some(4000),
        "counted from the last fault"
    );
    assert_eq!(r.steps[1].time_to_detect_ms, Some(3000));
    assert_eq!(r.steps[0].elapsed_ms, Some(9000));
    assert_eq!(r.writes_lost, Some(0));
    assert!(r.verdict().starts_with("passed"), "{}", r.verdict());
}

#[test]
fn the_condition_is_not_judged_on_a_poll_taken_before_the_fault() {
    let mut d = drill("lagging-replica");
    d.writes(KEPT);
    let healthy = [primary("n1"), replica("n2", "n1"), replica("n3", "n1")];
    d.update(&topo(0, &healthy), time(0));
    // The fault is still being injected: nothing is judged.
    assert!(d.update(&topo(1, &healthy), time(1)).is_empty());
    assert!(d.update(&topo(2, &healthy), time(2)).is_empty());
    d.fault_done(time(3));
    // A poll from before the fault was done is not judged either.
    assert!(d.update(&topo(3, &healthy), time(3)).is_empty());
    assert!(d.update(&topo(3, &healthy), time(4)).is_empty());
    d.update(&topo(5, &healthy), time(5));
    let done = d.update(&topo(6, &healthy), time(6));
    assert_eq!(kinds(&done), ["step_done", "over"]);
}

#[test]
fn a_forced_wrong_move_fails_at_once_naming_the_move() {
    let mut d = drill("lagging-replica");
    d.writes(KEPT);
    let healthy = [primary("n1"), replica("n2", "n1"), replica("n3", "n1")];
    d.update(&topo(0, &healthy), time(0));
    d.fault_done(time(0));
    d.action(
        Activity::Started {
            action: "switchover".into(),
            summary: "switch over from n1 to n3".into(),
        },
        time(2),
    );
    d.action(
        Activity::Overridden {
            action: "switchover".into(),
            reason: "it is the closest".into(),
        },
        time(2),
    );
    let wrong = [replica("n1", "n3"), replica("n2", "n3"), primary("n3")];
    let end = d.update(&topo(3, &wrong), time(3));
    let DrillEvent::Over { ending } = &end[0] else {
        panic!("{end:?}")
    };
    assert_eq!(
        *ending,
        Ending::WrongMove {
            step: 0,
            what: "n3 became a primary".into(),
            by: Some("switch over from n1 to n3, forced: \"it is the closest\"".into()),
        }
    );
    let r = d.report(Some(KEPT));
    assert!(!r.passed);
    assert_eq!(r.guards_tripped.len(), 1);
    assert!(
        r.verdict()
            .contains("wrong move in step 1: n3 became a primary"),
        "{}",
        r.verdict()
    );
}

#[test]
fn refusals_count_as_guards_tripped_and_do_not_fail() {
    let mut d = drill("lagging-replica");
    d.writes(KEPT);
    let healthy = [primary("n1"), replica("n2", "n1"), replica("n3", "n1")];
    d.update(&topo(0, &healthy), time(0));
    d.fault_done(time(0));
    d.action(
        Activity::Refused {
            action: "promote".into(),
            reason: "n1 is up and a primary".into(),
        },
        time(1),
    );
    d.update(&topo(2, &healthy), time(2));
    d.update(&topo(3, &healthy), time(3));
    let r = d.report(Some(KEPT));
    assert!(r.passed, "{r:#?}");
    assert_eq!(r.guards_tripped.len(), 1);
    assert_eq!(r.time_to_detect_ms, Some(1000));
}

#[test]
fn a_step_past_its_limit_times_out() {
    let mut d = drill("planned-switchover");
    let healthy = [primary("n1"), replica("n2", "n1"), replica("n3", "n1")];
    d.update(&topo(0, &healthy), time(0));
    assert!(d.update(&topo(120, &healthy), time(120)).is_empty());
    let end = d.update(&topo(121, &healthy), time(121));
    assert_eq!(
        end,
        [DrillEvent::Over {
            ending: Ending::TimedOut {
                step: 0,
                limit_ms: 120_000
            }
        }]
    );
    let r = d.report(Some(KEPT));
    assert!(!r.passed);
    assert!(
        r.verdict().contains("step 1 not done within 120.0 s"),
        "{}",
        r.verdict()
    );
}

#[test]
fn the_drill_time_limit_can_be_overridden() {
    let mut d = Drill::new(
        crate::drill::find("planned-switchover").unwrap(),
        Some(std::time::Duration::from_secs(10)),
    );
    let healthy = [primary("n1"), replica("n2", "n1"), replica("n3", "n1")];
    d.update(&topo(0, &healthy), time(0));
    let end = d.update(&topo(11, &healthy), time(11));
    assert!(
        matches!(
            &end[..],
            [DrillEvent::Over {
                ending: Ending::TimedOut {
                    limit_ms: 10_000,
                    ..
                }
            }]
        ),
        "{end:?}"
    );
}

#[test]
fn hints_come_after_their_delay_or_on_demand() {
    let mut d = master_crash_crashed();
    let crashed = crashed_nodes();
    assert!(d.update(&topo(59, &crashed), time(59)).is_empty());
    let later = d.update(&topo(61, &crashed), time(61));
    assert!(
        matches!(&later[..], [DrillEvent::Hint { index: 1, .. }]),
        "{later:?}"
    );
    assert!(matches!(
        d.ask_hint(),
        Some(DrillEvent::Hint { index: 0, .. })
    ));
    assert_eq!(d.ask_hint(), None);
    assert_eq!(d.report(None).hints_used, 2);
    assert_eq!(d.report(None).hints_asked, 1, "the timed one was not asked");
}

#[test]
fn lost_writes_fail_a_completed_drill() {
    let mut d = drill("lagging-replica");
    let healthy = [primary("n1"), replica("n2", "n1"), replica("n3", "n1")];
    d.writes(KEPT);
    d.update(&topo(0, &healthy), time(0));
    d.fault_done(time(0));
    d.update(&topo(1, &healthy), time(1));
    d.update(&topo(2, &healthy), time(2));
    let lost = WriteCheck {
        acknowledged: 100,
        lost: 3,
    };
    let r = d.report(Some(lost));
    assert!(!r.passed);
    assert!(
        r.verdict().ends_with("lost 3 of 100 acknowledged writes"),
        "{}",
        r.verdict()
    );
    assert!(!d.report(None).passed, "unchecked writes fail");
}

#[test]
fn a_wrong_move_made_outside_redops_names_no_refused_action() {
    let mut d = drill("lagging-replica");
    let healthy = [primary("n1"), replica("n2", "n1"), replica("n3", "n1")];
    d.update(&topo(0, &healthy), time(0));
    d.fault_done(time(0));
    d.action(
        Activity::Started {
            action: "promote".into(),
            summary: "promote n3 in place of n1".into(),
        },
        time(1),
    );
    d.action(
        Activity::Refused {
            action: "promote".into(),
            reason: "n1 is up and a primary".into(),
        },
        time(1),
    );
    // REPLICAOF NO ONE sent by hand: the refused promotion did not do it.
    let by_hand = [primary("n1"), replica("n2", "n1"), primary("n3")];
    let end = d.update(&topo(2, &by_hand), time(2));
    assert!(
        matches!(
            &end[..],
            [DrillEvent::Over {
                ending: Ending::WrongMove { by: None, .. }
            }]
        ),
        "{end:?}"
    );
}

#[test]
fn saying_the_fault_is_seen_counts_for_time_to_detect_and_is_no_move() {
    let mut d = master_crash_crashed();
    d.writes(KEPT);
    let crashed = crashed_nodes();
    d.update(&topo(4, &crashed), time(4));
    d.action(
        Activity::Noticed {
            what: "seen: primary_down".into(),
        },
        time(5),
    );
    d.action(
        Activity::Started {
            action: "promote".into(),
            summary: "promote n2 in place of n1".into(),
        },
        time(7),
    );
    let promoted = [down(primary("n1")), primary("n2"), replica("n3", "n2")];
    d.update(&topo(8, &promoted), time(8));
    d.update(&topo(9, &promoted), time(9));
    let r = d.report(Some(KEPT));
    assert_eq!(r.steps[0].time_to_detect_ms, Some(2000), "{r:#?}");
    assert!(
        r.guards_tripped.is_empty(),
        "noticing trips no guard: {r:#?}"
    );
}
