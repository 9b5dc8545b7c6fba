use super::{Condition, WriteCheck};
use crate::drill::testing::{down, link_down, primary, replica, topo};

fn all_follow() -> Condition {
    Condition::AllReplicateFrom {
        primary: None,
        link_up: true,
        except: Vec::new(),
    }
}

#[test]
fn one_primary_among_wants_exactly_one_and_among_the_names() {
    let c = Condition::OnePrimaryAmong {
        nodes: vec!["n2".into(), "n3".into()],
    };
    let healthy = topo(
        1,
        &[primary("n1"), replica("n2", "n1"), replica("n3", "n1")],
    );
    assert_eq!(
        c.unmet(&healthy, None),
        vec!["the primary is n1, not one of n2, n3"]
    );
    let promoted = topo(
        1,
        &[down(primary("n1")), primary("n2"), replica("n3", "n2")],
    );
    assert!(c.holds(&promoted, None));
    let two = topo(1, &[primary("n1"), primary("n2"), replica("n3", "n2")]);
    assert_eq!(c.unmet(&two, None), vec!["2 primaries (n1, n2)"]);
}

#[test]
fn a_dead_primary_is_not_a_primary() {
    let c = Condition::PrimaryIs { node: "n1".into() };
    let t = topo(1, &[down(primary("n1")), replica("n2", "n1")]);
    assert_eq!(c.unmet(&t, None), vec!["no primary (want n1)"]);
}

#[test]
fn all_replicate_from_follows_chains_and_wants_links_up() {
    let chained = topo(
        1,
        &[primary("n1"), replica("n2", "n1"), replica("n3", "n2")],
    );
    assert!(all_follow().holds(&chained, None));
    let cut = topo(
        1,
        &[
            primary("n1"),
            replica("n2", "n1"),
            link_down(replica("n3", "n1")),
        ],
    );
    assert_eq!(
        all_follow().unmet(&cut, None),
        vec!["n3's link to its primary is not up"]
    );
    let dead = topo(
        1,
        &[down(primary("n1")), primary("n2"), replica("n3", "n2")],
    );
    assert_eq!(all_follow().unmet(&dead, None), vec!["n1 is not up"]);
    let except = Condition::AllReplicateFrom {
        primary: None,
        link_up: true,
        except: vec!["n1".into()],
    };
    assert!(except.holds(&dead, None));
}

#[test]
fn node_is_replica_of_wants_the_direct_upstream() {
    let c = Condition::NodeIsReplicaOf {
        node: "n3".into(),
        primary: "n1".into(),
        link_up: true,
    };
    let chained = topo(
        1,
        &[primary("n1"), replica("n2", "n1"), replica("n3", "n2")],
    );
    assert_eq!(
        c.unmet(&chained, None),
        vec!["n3 replicates from n2, not n1"]
    );
}

#[test]
fn no_writes_lost_needs_a_check_with_nothing_missing() {
    let t = topo(1, &[primary("n1")]);
    let c = Condition::NoWritesLost;
    assert!(!c.holds(&t, None));
    let lost = WriteCheck {
        acknowledged: 10,
        lost: 2,
    };
    assert_eq!(
        c.unmet(&t, Some(lost)),
        vec!["2 of 10 acknowledged writes are missing"]
    );
    let kept = WriteCheck {
        acknowledged: 10,
        lost: 0,
    };
    assert!(
        Condition::All(vec![c, Condition::PrimaryIs { node: "n1".into() }]).holds(&t, Some(kept))
    );
}

#[test]
fn any_holds_when_one_way_holds_and_persists_reads_save_points_or_aof() {
    use std::sync::Arc;
    let with_persistence = |save: Option<&str>, aof: bool| {
        let mut t = topo(1, &[primary("n1"), replica("n2", "n1")]);
        let mut info = crate::info::Info::default();
        info.persistence.save_config = save.map(str::to_string);
        info.persistence.aof_enabled = aof;
        t.groups[0].nodes[0].info = Some(Arc::new(info));
        t
    };
    let persists = Condition::Persists { node: "n1".into() };
    assert_eq!(
        persists.unmet(&with_persistence(Some(""), false), None),
        vec!["n1 has no save points and no AOF"]
    );
    assert!(persists.holds(&with_persistence(Some("60 1"), false), None));
    assert!(persists.holds(&with_persistence(Some(""), true), None));
    assert!(
        !persists.holds(&with_persistence(None, false), None),
        "unknown is not on"
    );
    let either = Condition::Any(vec![persists, Condition::PrimaryIs { node: "n2".into() }]);
    assert_eq!(
        either.unmet(&with_persistence(Some(""), false), None),
        vec!["one of: n1 has no save points and no AOF | the primary is n1, not n2"]
    );
    assert!(either.holds(&with_persistence(Some("3600 1"), false), None));
}

#[test]
fn keys_at_least_counts_every_database_of_a_live_node() {
    use std::sync::Arc;
    let holding = |dbs: &[(u32, u64)]| {
        let mut t = topo(1, &[primary("n1"), replica("n2", "n1")]);
        let mut info = crate::info::Info::default();
        info.keyspace = dbs
            .iter()
            .map(|&(db, keys)| crate::info::DbKeys {
                db,
                keys,
                ..crate::info::DbKeys::default()
            })
            .collect();
        t.groups[0].nodes[0].info = Some(Arc::new(info));
        t
    };
    let c = Condition::KeysAtLeast {
        node: "n1".into(),
        keys: 1000,
    };
    assert_eq!(
        c.unmet(&holding(&[]), None),
        vec!["n1 holds 0 keys, fewer than 1000"]
    );
    assert!(c.holds(&holding(&[(0, 900), (3, 100)]), None));
    let gone = topo(1, &[down(primary("n1")), replica("n2", "n1")]);
    assert_eq!(c.unmet(&gone, None), vec!["n1 is not up"]);
}

/// Sentinel rows naming `masters` (`None`: that sentinel does not answer).
fn with_sentinels(
    mut t: crate::topology::Topology,
    masters: &[Option<&str>],
) -> crate::topology::Topology {
    let rows = masters
        .iter()
        .enumerate()
        .map(|(i, m)| crate::sentinel::SentinelRow {
            addr: format!("127.0.0.1:{}", 26_000 + i),
            error: m.is_none().then(|| "connection refused".to_string()),
            pending: false,
            unknown_master: false,
            master: m.map(|m| format!("{m}:addr")),
            master_node: m.map(str::to_string),
            flags: vec!["master".into()],
            quorum: Some(2),
            ckquorum: None,
            failover_state: None,
            epoch: None,
            tilt: false,
            other_sentinels: None,
        })
        .collect();
    t.groups[0].sentinel = Some(crate::sentinel::GroupSentinel {
        master_name: "drill".into(),
        rows,
        ..Default::default()
    });
    t
}

#[test]
fn sentinels_name_primary_wants_every_sentinel_on_the_live_primary() {
    let c = Condition::SentinelsNamePrimary;
    let promoted = || {
        topo(
            1,
            &[down(primary("n1")), primary("n2"), replica("n3", "n2")],
        )
    };
    assert_eq!(
        c.unmet(&promoted(), None),
        vec!["no sentinel watches the group"]
    );
    let agreed = with_sentinels(promoted(), &[Some("n2"), Some("n2"), Some("n2")]);
    assert!(c.holds(&agreed, None));
    let behind = with_sentinels(promoted(), &[Some("n2"), Some("n1"), None]);
    assert_eq!(
        c.unmet(&behind, None),
        vec![
            "sentinel 127.0.0.1:26001 names n1, not n2",
            "sentinel 127.0.0.1:26002 does not answer"
        ]
    );
    // A replica promoted by hand behind Sentinel's back: two primaries, no single one named.
    let by_hand = with_sentinels(
        topo(1, &[down(primary("n1")), primary("n2"), primary("n3")]),
        &[Some("n2"), Some("n2"), Some("n2")],
    );
    assert_eq!(
        c.unmet(&by_hand, None),
        vec!["no single primary for the sentinels to name"]
    );
}
