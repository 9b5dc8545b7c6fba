use super::*;
use crate::ops::fake::FakeOps;
use crate::ops::switchover::{plan_switchover, SwitchoverRequest};
use crate::ops::{Budgets, Check, Strategy};

fn switchover(fake: &FakeOps) -> Plan {
    let (config, topo) = fake.config_and_topology("g");
    let req = SwitchoverRequest {
        to: "r1".into(),
        strategy: Strategy::Manual,
        budgets: Budgets::default(),
        download_dir: None,
    };
    plan_switchover(&config, &topo, &req).unwrap_or_else(|e| panic!("{e}"))
}

fn yes(name: &str) -> Approval {
    Approval {
        confirmation: Some(name.to_string()),
        ..Approval::default()
    }
}

#[test]
fn the_text_is_one_with_its_hint_apart() {
    let r = Refusal::Sentinel {
        group: "g".into(),
        master_name: "m".into(),
    };
    assert!(r.message().contains("watched by Sentinel"), "{r}");
    assert!(!r.message().contains("hint"), "{r}");
    // What to use instead: the actions that go through Sentinel.
    let instead = r.hint().unwrap_or_default();
    for what in ["rejoin", "promote", "SENTINEL FAILOVER"] {
        assert!(instead.contains(what), "{what}: {instead}");
    }
    assert_eq!(
        r.to_string(),
        format!("{}. hint: {}", r.message(), r.hint().unwrap_or_default())
    );
    let e = r.error();
    assert_eq!(e.kind, crate::ops::ErrorKind::Refused);
    assert_eq!(e.hint, r.hint());
    assert_eq!(
        Refusal::GroupReadOnly { group: "g".into() }.to_string(),
        "group 'g' is read-only in the config: redops takes no action on it"
    );
    for r in [Refusal::ReadOnly, Refusal::NoSnapshotGate] {
        let t = r.to_string();
        assert!(!t.contains("--"), "no command-line syntax in the core: {t}");
    }
}

#[test]
fn refusals_come_in_the_engines_order() {
    let fake = FakeOps::group(&["p", "r1", "r2"]);
    let mut plan = switchover(&fake);
    assert_eq!(check(&plan, &yes("r1")), Ok(()));
    assert_eq!(
        check(&plan, &Approval::default()),
        Err(Refusal::NotConfirmed {
            expected: Some("r1".into())
        })
    );
    plan.checks.push(Check::fail_overridable("lag"));
    assert!(matches!(
        refusal(&plan, &yes("r1")),
        Some(Refusal::NeedsOverride { .. })
    ));
    let forced = Approval {
        force_reason: Some("known".into()),
        ..yes("r1")
    };
    assert_eq!(refusal(&plan, &forced), None);
    plan.checks.push(Check::fail("down"));
    assert!(matches!(
        refusal(&plan, &forced),
        Some(Refusal::HardFailure { failed }) if failed == ["down"]
    ));
    plan.ha_manager = Some(Refusal::Cluster { group: "g".into() });
    assert!(matches!(
        refusal(&plan, &forced),
        Some(Refusal::Cluster { .. })
    ));
    let ro = Approval {
        read_only: true,
        ..forced
    };
    assert_eq!(refusal(&plan, &ro), Some(Refusal::ReadOnly));
}

#[test]
fn a_role_change_without_a_gate_needs_a_recorded_reason() {
    let fake = FakeOps::group(&["p", "r1", "r2"]);
    let mut plan = switchover(&fake);
    plan.snapshots.clear();
    assert!(plan.changes_roles() && plan.downloads.is_empty());
    assert_eq!(refusal(&plan, &yes("r1")), Some(Refusal::NoSnapshotGate));
    let skipped = Approval {
        skip_snapshot_reason: Some("backup taken by hand".into()),
        ..yes("r1")
    };
    assert_eq!(refusal(&plan, &skipped), None);
    let empty = Approval {
        skip_snapshot_reason: Some("  ".into()),
        ..yes("r1")
    };
    assert_eq!(refusal(&plan, &empty), Some(Refusal::SkipWithoutReason));
    plan.gate_skipped = Some("nothing to save".into());
    assert_eq!(refusal(&plan, &yes("r1")), None);
}

#[test]
fn an_ha_manager_refuses_role_changes_only() {
    let s = Refusal::Sentinel {
        group: "g".into(),
        master_name: "m".into(),
    };
    assert_eq!(standing(false, None, Some(&s), false), None);
    assert_eq!(standing(false, None, Some(&s), true), Some(s.clone()));
    let ro = Refusal::GroupReadOnly { group: "g".into() };
    assert_eq!(standing(false, Some(&ro), Some(&s), false), Some(ro));
    assert_eq!(standing(true, None, None, false), Some(Refusal::ReadOnly));
}
