//! The wipe guard's findings on hand-built node views.

use super::*;
use crate::info::DbKeys;
use crate::ops::promote::RejoinMark;
use crate::topology::{Link, Role, Upstream};
use std::sync::Arc;

struct N {
    name: &'static str,
    role: InfoRole,
    keys: u64,
    replid: &'static str,
    offset: u64,
    version: &'static str,
}

fn view(n: &N, f: impl FnOnce(&mut Info)) -> NodeView {
    let mut i = Info::default();
    i.replication.role = Some(n.role);
    i.replication.replid = Some(n.replid.into());
    i.replication.offset = Some(n.offset);
    i.replication.backlog_active = Some(true);
    i.replication.backlog_first_byte_offset = Some(1);
    i.replication.backlog_histlen = Some(n.offset);
    i.server.version = Some(n.version.into());
    i.server.config_file = Some("/etc/redis.conf".into());
    if n.keys > 0 {
        i.keyspace.push(DbKeys {
            db: 0,
            keys: n.keys,
            ..DbKeys::default()
        });
    }
    if n.role == InfoRole::Replica {
        i.replication.link_up = Some(true);
    }
    f(&mut i);
    let mut v = NodeView::new(None, n.name, &format!("127.0.0.1:{}", 7000 + n.name.len()));
    v.role = match n.role {
        InfoRole::Primary => Role::Primary,
        InfoRole::Replica => Role::Replica,
    };
    v.state = NodeState::Up;
    v.info = Some(Arc::new(i));
    v
}

fn n(name: &'static str, role: InfoRole, keys: u64, replid: &'static str, offset: u64) -> N {
    N {
        name,
        role,
        keys,
        replid,
        offset,
        version: "7.0.15",
    }
}

fn group(nodes: Vec<NodeView>) -> GroupTopology {
    GroupTopology {
        nodes,
        ..GroupTopology::default()
    }
}

fn verdicts(g: &WipeGuard, v: Verdict) -> Vec<String> {
    g.findings
        .iter()
        .filter(|f| f.verdict == v)
        .map(|f| f.message.clone())
        .collect()
}

#[test]
fn primary_with_data_onto_an_empty_node_is_refused_and_downloaded() {
    let node = view(&n("m1", InfoRole::Primary, 3, "aaaa", 500), |_| {});
    let empty = view(&n("e1", InfoRole::Primary, 0, "bbbb", 0), |i| {
        i.replication.backlog_active = Some(false);
    });
    let g = assess(
        &node,
        &empty,
        &group(vec![node.clone(), empty.clone()]),
        false,
    );
    assert!(!g.refused());
    let forced = verdicts(&g, Verdict::RefuseUnlessForced);
    assert!(
        forced
            .iter()
            .any(|m| m.contains("e1 is empty and m1 holds 3 keys")),
        "{forced:?}"
    );
    assert!(
        forced
            .iter()
            .any(|m| m.contains("another replication history")),
        "{forced:?}"
    );
    assert!(!g.resync.as_ref().unwrap().is_partial());
    assert!(g.download.needed);
    assert!(
        g.node.describe().contains("3 keys"),
        "{}",
        g.node.describe()
    );
}

#[test]
fn replica_behind_its_sibling_continues_partially_without_download() {
    let node = view(&n("r1", InfoRole::Replica, 10, "aaaa", 90), |_| {});
    let sib = view(&n("r2", InfoRole::Replica, 10, "aaaa", 100), |_| {});
    let g = assess(&node, &sib, &group(vec![node.clone(), sib.clone()]), false);
    assert!(!g.refused() && !g.needs_force(), "{:?}", g.findings);
    assert!(g.resync.as_ref().unwrap().is_partial());
    assert!(!g.download.needed, "{}", g.download.why);
}

#[test]
fn a_loop_is_refused_unless_forced() {
    let mut a = view(&n("a", InfoRole::Replica, 1, "h", 10), |_| {});
    let mut b = view(&n("b", InfoRole::Replica, 1, "h", 10), |_| {});
    let c = view(&n("c", InfoRole::Primary, 1, "h", 10), |_| {});
    // b follows a, a follows c; repointing a to b closes a loop a -> b -> a.
    b.upstream = Some(Upstream {
        addr: a.addr.clone(),
        index: Some(0),
    });
    a.upstream = Some(Upstream {
        addr: c.addr.clone(),
        index: Some(2),
    });
    a.link = Some(Link::Up);
    let g = assess(&a, &b, &group(vec![a.clone(), b.clone(), c]), false);
    let forced = verdicts(&g, Verdict::RefuseUnlessForced);
    assert!(
        forced
            .iter()
            .any(|m| m.contains("loop: b already replicates from a (b -> a)")),
        "{forced:?}"
    );
}

#[test]
fn loading_source_is_refused_and_older_source_only_warned() {
    let node = view(&n("m1", InfoRole::Replica, 1, "h", 10), |_| {});
    let loading = view(&n("s1", InfoRole::Primary, 1, "h", 10), |i| {
        i.persistence.loading = true;
    });
    assert!(assess(&node, &loading, &group(vec![]), false).refused());
    let older = view(
        &N {
            version: "6.2.14",
            ..n("s2", InfoRole::Primary, 1, "h", 10)
        },
        |_| {},
    );
    let g = assess(&node, &older, &group(vec![]), false);
    assert!(
        !g.refused(),
        "a newer node loads an older RDB: {:?}",
        g.findings
    );
    assert!(
        verdicts(&g, Verdict::Warn)
            .iter()
            .any(|w| w.contains("can load the older RDB")),
        "{:?}",
        g.findings
    );
    let mut down = view(&n("s3", InfoRole::Primary, 1, "h", 10), |_| {});
    down.state = NodeState::Down;
    assert!(assess(&node, &down, &group(vec![]), false).refused());
}

#[test]
fn old_primary_with_divergent_writes_and_replicas() {
    // REDIS.md 3c: the old primary wrote 87 bytes after the new one was promoted.
    let old = view(
        &n("p-old", InfoRole::Primary, 5, "6c3f57", 73_200_459),
        |i| {
            i.replication.connected_replicas = 2;
        },
    );
    let new = view(
        &n("p-new", InfoRole::Primary, 5, "c7c2fb", 73_200_372),
        |i| {
            i.replication.replid2 = Some("6c3f57".into());
            i.replication.second_offset = Some(73_200_373);
        },
    );
    let g = assess(&old, &new, &group(vec![]), true);
    let forced = verdicts(&g, Verdict::RefuseUnlessForced);
    assert!(
        forced
            .iter()
            .any(|m| m.contains("87 bytes of writes p-new never saw")),
        "{forced:?}"
    );
    assert!(
        forced
            .iter()
            .any(|m| m.contains("primary with 2 replicas:")),
        "{forced:?}"
    );
    assert!(verdicts(&g, Verdict::Warn)
        .iter()
        .any(|m| m.contains("masterauth")));
    assert!(g.download.needed);
}

#[test]
fn a_chained_replica_read_ahead_of_its_root_is_not_divergent() {
    // r2 follows r0 which follows r1, links up, one history; r1 was read before the writes
    // that r2 had already received when it was read. Seen in a live run: "r2 holds 1332 bytes
    // of writes r1 never saw" and "r1 holds fewer keys than r2" were read skew.
    let r1 = view(&n("r1", InfoRole::Primary, 40_065, "h", 1_460_239), |_| {});
    let mut r0 = view(&n("r0x", InfoRole::Replica, 40_080, "h", 1_460_900), |_| {});
    let mut r2 = view(
        &n("r2xx", InfoRole::Replica, 40_101, "h", 1_461_571),
        |_| {},
    );
    r0.upstream = Some(Upstream {
        addr: r1.addr.clone(),
        index: Some(0),
    });
    r0.link = Some(Link::Up);
    r2.upstream = Some(Upstream {
        addr: r0.addr.clone(),
        index: Some(1),
    });
    r2.link = Some(Link::Up);
    let grp = group(vec![r1.clone(), r0.clone(), r2.clone()]);
    let g = assess(&r2, &r1, &grp, false);
    assert!(!g.needs_force() && !g.refused(), "{:#?}", g.findings);
    assert!(g.resync.as_ref().is_some_and(Resync::is_partial), "{g:#?}");
    let pass = verdicts(&g, Verdict::Pass);
    assert!(
        pass.iter()
            .any(|m| m.contains("r2xx already follows r1 (r2xx -> r0x -> r1)")),
        "{pass:?}"
    );

    // The same offsets with r0's link down prove nothing: r2 may hold what r1 lost.
    r0.link = Some(Link::Down { since: None });
    let grp = group(vec![r1.clone(), r0, r2.clone()]);
    let g = assess(&r2, &r1, &grp, false);
    assert!(g.needs_force(), "{:#?}", g.findings);
}

/// p primary; n4 and n1 its replicas, links up as given.
fn siblings_group(
    n4_off: u64,
    n1_off: u64,
    n1_link: Link,
    n1_replid: &'static str,
) -> Vec<NodeView> {
    let p = view(&n("p", InfoRole::Primary, 100, "h", 2_000_000), |_| {});
    let mut n4 = view(&n("n4", InfoRole::Replica, 100, "h", n4_off), |_| {});
    let mut n1 = view(&n("n1", InfoRole::Replica, 100, n1_replid, n1_off), |_| {});
    for (v, link) in [(&mut n4, Link::Up), (&mut n1, n1_link)] {
        v.upstream = Some(Upstream {
            addr: p.addr.clone(),
            index: Some(0),
        });
        v.link = Some(link);
    }
    vec![p, n4, n1]
}

/// Issue 7: under a writer, n4 was read 46941 bytes ahead of its sibling n1; both follow p
/// with their links up on one history. That is lag: no override, the bytes are on their way to
/// n1, and the plan waits for them (the resync is then partial, nothing to download).
#[test]
fn a_sibling_read_behind_is_lag_not_divergence() {
    let nodes = siblings_group(1_046_941, 1_000_000, Link::Up, "h");
    let g = assess(&nodes[1], &nodes[2], &group(nodes.clone()), false);
    assert!(!g.needs_force() && !g.refused(), "{:#?}", g.findings);
    assert_eq!(
        g.lag,
        Some(Lag {
            root: "p".into(),
            behind: 46_941
        })
    );
    let pass = verdicts(&g, Verdict::Pass);
    assert!(
        pass.iter()
            .any(|m| m.contains("n1 is 46941 bytes behind n4; it will have them")),
        "{pass:?}"
    );
    assert!(g.resync.as_ref().is_some_and(Resync::is_partial), "{g:#?}");
    assert!(!g.download.needed, "{}", g.download.why);

    // Read the other way round (n1 ahead): still siblings, and the plan still waits.
    let nodes = siblings_group(1_000_000, 1_000_100, Link::Up, "h");
    let g = assess(&nodes[1], &nodes[2], &group(nodes.clone()), false);
    assert!(!g.needs_force(), "{:#?}", g.findings);
    assert_eq!(g.lag.as_ref().map(|l| l.behind), Some(0));
}

/// Divergence stays refused: a sibling whose link is down may never get the bytes (they are
/// not proven to be on its way), and one on another history holds another dataset.
#[test]
fn a_sibling_that_cannot_receive_the_bytes_is_divergence() {
    let nodes = siblings_group(1_046_941, 1_000_000, Link::Down { since: None }, "h");
    let g = assess(&nodes[1], &nodes[2], &group(nodes.clone()), false);
    assert_eq!(g.lag, None);
    assert!(
        verdicts(&g, Verdict::RefuseUnlessForced)
            .iter()
            .any(|m| m.contains("n4 holds 46941 bytes of writes n1 never saw")),
        "{:#?}",
        g.findings
    );

    let nodes = siblings_group(1_046_941, 1_000_000, Link::Up, "other");
    let g = assess(&nodes[1], &nodes[2], &group(nodes.clone()), false);
    assert_eq!(g.lag, None);
    assert!(g.needs_force(), "{:#?}", g.findings);
}

fn rejoin_mark(fork_offset: u64) -> RejoinMark {
    RejoinMark {
        group: String::new(),
        node: "p-old".into(),
        addr: "127.0.0.1:7005".into(),
        promoted: "p-new".into(),
        last_replid: Some("6c3f57".into()),
        last_offset: Some(73_200_459),
        fork_replid: Some("6c3f57".into()),
        fork_offset: Some(fork_offset),
        marked_at: "2026-01-01T00:00:00Z".into(),
        run_id: "run-7".into(),
    }
}

/// Issue 6: the old primary wrote 87 bytes after its replica's last offset, then the replica
/// was promoted in its place. With its rejoin mark that is the happy path: the 87 bytes are
/// stated, the snapshot is downloaded first, no override. Without a fitting mark, the plain
/// guard still refuses.
#[test]
fn a_marked_old_primary_rejoins_with_the_discarded_bytes_stated() {
    let old = view(
        &n("p-old", InfoRole::Primary, 9, "6c3f57", 73_200_459),
        |_| {},
    );
    let new = view(
        &n("p-new", InfoRole::Primary, 5, "c7c2fb", 73_200_400),
        |i| {
            i.replication.replid2 = Some("6c3f57".into());
            i.replication.second_offset = Some(73_200_373);
        },
    );
    let grp = group(vec![old.clone(), new.clone()]);
    let g = assess_rejoin(&old, &new, &grp, false, Some(&rejoin_mark(73_200_372)));
    assert!(!g.needs_force() && !g.refused(), "{:#?}", g.findings);
    assert!(matches!(&g.rejoin, Some(MarkCheck::Matches(d)) if d.bytes == 87));
    let warn = verdicts(&g, Verdict::Warn);
    assert!(
        warn.iter()
            .any(|m| m.contains("the rejoin discards 87 bytes")
                && m.contains("after offset 73200372")),
        "{warn:?}"
    );
    // Fewer keys on the new primary (9 vs 5) only illustrate it.
    assert!(
        warn.iter().any(|m| m.contains("holds fewer keys")),
        "{warn:?}"
    );
    assert!(g.download.needed, "{}", g.download.why);

    // A mark naming another promoted node does not fit: the refusal is back, and says why.
    let mut other = rejoin_mark(73_200_372);
    other.promoted = "p-third".into();
    let g = assess_rejoin(&old, &new, &grp, false, Some(&other));
    assert!(g.needs_force(), "{:#?}", g.findings);
    assert!(
        verdicts(&g, Verdict::Warn)
            .iter()
            .any(|m| m.contains("rejoin mark does not fit")),
        "{:#?}",
        g.findings
    );
    assert!(assess(&old, &new, &grp, false).needs_force());
}

/// Restarted from a dump older than the promotion point: nothing is discarded, proven.
#[test]
fn a_marked_old_primary_restarted_from_an_older_dump_discards_nothing() {
    let zombie = view(&n("p-old", InfoRole::Primary, 3, "0388af", 50), |i| {
        i.replication.replid2 = Some("6c3f57".into());
        i.replication.second_offset = Some(51);
    });
    let new = view(&n("p-new", InfoRole::Primary, 5, "74dfe9", 300), |i| {
        i.replication.replid2 = Some("6c3f57".into());
        i.replication.second_offset = Some(101);
    });
    let grp = group(vec![zombie.clone(), new.clone()]);
    let g = assess_rejoin(&zombie, &new, &grp, false, Some(&rejoin_mark(100)));
    assert!(!g.needs_force() && !g.refused(), "{:#?}", g.findings);
    let pass = verdicts(&g, Verdict::Pass);
    assert!(
        pass.iter().any(|m| m.contains("the rejoin discards none")),
        "{pass:?}"
    );
    assert!(g.download.needed);
}
