//! `restore NODE --from ID|FILE`: a backup put back into a live node without shell access to
//! its server. A scratch server on the operator's machine is loaded with the RDB (its CRC
//! checked first, its keys per database compared with the manifest), the node is made its
//! replica and waits for the full sync (link up, no sync running, offset at the scratch
//! server's), its keys per database are compared with what the scratch server loaded, then it
//! is detached (`REPLICAOF NO ONE`) and the scratch server stopped by PID. Its replicas resync
//! from it afterwards (the plan says so).
//!
//! Behind the wipe guard's rule: a node holding keys is refused unless forced, and then its
//! data is downloaded and verified first; an empty node goes ahead. A replica is refused: its
//! next resync from its primary would undo the restore (restore the primary instead, its
//! replicas follow).
//!
//! Plan building only (pure): the engine runs the plan (`engine/scratch.rs`).

use std::path::PathBuf;
use std::time::Duration;

use crate::backup::restore::RestoreSource;
use crate::config::{Addr, Config};
use crate::info::InfoRole;
use crate::topology::{human_bytes, GroupTopology, NodeView, Role, Topology};

use super::checks::{group_guard, latency, reachable};
use super::plan::{ActionKind, Budgets, Check, Confirm, Expect, NoteKind, Plan, Step, StepKind};
use super::redis_ops::{Command, InfoSection};
use super::request::RestoreFrom;
use super::{group_topology, NodeRef};

/// How long a restore waits for the node's full sync from the scratch server, and for its
/// replicas to follow it again, by default.
pub const DEFAULT_SYNC_DEADLINE: Duration = Duration::from_secs(600);

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreRequest<'a> {
    pub from: &'a RestoreFrom,
    pub budgets: Budgets,
    /// Where the node's current data is downloaded when it holds keys.
    pub backups_dir: PathBuf,
    pub sync_deadline: Duration,
}

/// True for a loopback host, which only a node on this machine can reach.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The configured nodes that replicate directly from `name`.
fn replicas_of<'g>(gt: &'g GroupTopology, name: &str) -> Vec<&'g NodeView> {
    gt.nodes
        .iter()
        .filter(|v| v.id.is_some() && v.role == Role::Replica)
        .filter(|v| {
            v.upstream
                .as_ref()
                .and_then(|u| u.index)
                .and_then(|i| gt.nodes.get(i))
                .is_some_and(|u| u.name == name)
        })
        .collect()
}

/// The file's own check, and what it holds, as one pre-check.
fn file_check(src: &RestoreSource) -> Check {
    match &src.check {
        Err(e) => Check::fail(format!("the backup cannot be restored: {e}")),
        Ok(c) => {
            let mut s = format!(
                "backup {}: {}, RDB version {}, CRC-64 {}",
                src.label(),
                human_bytes(src.bytes),
                c.rdb_version,
                c.crc
            );
            if let (Some(from), Some(at)) = (&src.taken_from, &src.taken_at) {
                s.push_str(&format!(", taken from {from} at {at}"));
            }
            match &src.expected {
                Some(e) => s.push_str(&format!(", {} keys by its manifest", e.total())),
                None => s.push_str(", no manifest: the keys it holds are counted once loaded"),
            }
            Check::pass(s)
        }
    }
}

/// Builds the plan of `restore NODE --from ...`.
#[must_use]
#[allow(clippy::too_many_lines)] // the checks, then one constructor call per step.
pub fn plan_restore(
    config: &Config,
    topology: &Topology,
    node: &NodeRef<'_>,
    req: &RestoreRequest<'_>,
) -> Plan {
    let gi = node.group_index;
    let group = &config.groups[gi];
    let gt = group_topology(topology, gi);
    let mut plan = Plan::new(ActionKind::Restore, &group.name, gi, req.budgets);
    let name = node.cfg.name.clone();
    let src = &req.from.source;
    let listen = req.from.listen.clone();
    plan.summary = format!(
        "{name} ({}) is loaded with backup {} through a scratch server on {listen}",
        node.cfg.addr,
        src.label()
    );
    group_guard(&mut plan, group, &gt);
    plan.confirm = Confirm::TypeName(name.clone());
    let ni = plan.add_node(&name, &node.cfg.addr, node.id);
    plan.checks.push(file_check(src));
    let Some(nv) = node.view else {
        plan.checks.push(Check::fail(format!(
            "{name} has not been polled: look at the group first"
        )));
        return plan;
    };
    plan.checks.push(reachable(nv));
    let info = nv.info.as_deref();
    let keys = info.map_or(0, crate::info::Info::total_keys);
    let role = info.and_then(|i| i.replication.role);
    match role {
        Some(InfoRole::Primary) => {
            plan.checks
                .push(Check::pass(format!("{name} is a primary")));
            plan.expects.push(Expect {
                node: ni,
                primary: true,
                upstream: None,
            });
        }
        Some(InfoRole::Replica) => plan.checks.push(Check::fail(format!(
            "{name} is a replica: its next resync from its primary would undo the restore; restore \
             the primary instead (its replicas follow it), or make {name} a primary first"
        ))),
        None => plan
            .checks
            .push(Check::fail(format!("{name}'s role is not known"))),
    }
    if is_loopback(&listen.host) && !is_loopback(&node.cfg.addr.host) {
        plan.checks.push(Check::fail(format!(
            "{name} ({}) cannot reach a scratch server on {listen}: give an address of this machine \
             that {name} can reach to listen on, or restore offline into a directory",
            node.cfg.addr
        )));
    }
    plan.checks.push(latency(nv, req.budgets.max_rtt));
    // What it replaces: the wipe guard's rule.
    plan.notes.push_as(
        NoteKind::AtRisk,
        format!(
            "{name} holds {keys} keys{}: the restore replaces them all",
            info.and_then(|i| i.memory.used_memory)
                .map_or_else(String::new, |m| format!(" ({} used)", human_bytes(m)))
        ),
    );
    if keys > 0 {
        plan.checks.push(Check::fail_overridable(format!(
            "{name} holds {keys} keys: the restore replaces them (forced, they are downloaded and \
             verified first)"
        )));
        plan.downloads.push(ni);
        plan.download_dir = Some(req.backups_dir.clone());
        plan.notes.push_as(
            NoteKind::AtRisk,
            format!(
                "download: {name}'s data goes to {} before anything changes",
                req.backups_dir.display()
            ),
        );
    } else {
        plan.checks.push(Check::pass(format!(
            "{name} holds no keys: nothing to keep"
        )));
        plan.gate_skipped = Some(format!("{name} holds no keys: there is nothing to keep"));
    }
    let replicas = replicas_of(&gt, &name);
    if !replicas.is_empty() {
        let names: Vec<&str> = replicas.iter().map(|v| v.name.as_str()).collect();
        let (verb, pronoun) = if names.len() == 1 {
            ("follows", "its")
        } else {
            ("follow", "their")
        };
        plan.checks.push(Check::warn(format!(
            "{} {verb} {name}: resynced from it after the restore (a full sync: {pronoun} data is \
             replaced by the restored data too)",
            names.join(", ")
        )));
    }
    if src.aof {
        plan.notes.push(
            "the backup's node ran appendonly yes: the RDB is what the scratch server loads, and the \
             node writes a new AOF of the restored data after its sync",
        );
    }
    plan.notes.push(format!(
        "the scratch server on {listen} requires {name}'s masterauth when it has one (read with CONFIG \
         GET, never shown or logged), else no password; it is stopped (by PID) as soon as {name} is \
         detached, and on every failure"
    ));
    plan.notes.push(format!(
        "writes to {name} are refused (READONLY) from the REPLICAOF until it is detached; a write \
         it took after this plan was made is replaced"
    ));

    let scratch = "the scratch server";
    let detach = format!("REPLICAOF NO ONE on {name}: a primary again");
    plan.steps.push(Step {
        title: format!("start {scratch} on {listen} loaded with the backup"),
        node: ni,
        kind: StepKind::StartScratch {
            rdb: src.rdb.clone(),
            listen: listen.clone(),
            source_version: src.source_version.clone(),
            expected: src.expected.clone(),
            server_bin: req.from.server_bin.clone(),
        },
        commands: Vec::new(),
        waits_for: Some("the server loaded the file (CRC-64 checked first)".to_string()),
        deadline: None,
        verify: match &src.expected {
            Some(_) => "keys per db equal the manifest's".to_string(),
            None => "keys per db as loaded (no manifest to compare with)".to_string(),
        },
        rollback: format!("stop {scratch} by PID: nothing else has changed"),
        critical: true,
    });
    plan.steps.push(Step {
        title: format!("point {name} at {scratch}"),
        node: ni,
        kind: StepKind::FollowScratch {
            listen: listen.clone(),
        },
        commands: vec![Command::ReplicaOf(Some(listen.clone()))],
        waits_for: None,
        deadline: None,
        verify: "+OK".to_string(),
        rollback: format!("{detach}, with what the sync left; stop {scratch}"),
        critical: true,
    });
    plan.steps.push(Step {
        title: format!("wait for {name}'s full sync from {scratch}"),
        node: ni,
        kind: StepKind::WaitRestored {
            listen: listen.clone(),
        },
        commands: vec![Command::Info(InfoSection::Default)],
        waits_for: Some(format!(
            "{name}: master_link_status:up, master_sync_in_progress:0, offset at {scratch}'s; then keys \
             per db equal {scratch}'s"
        )),
        deadline: Some(req.sync_deadline),
        verify: "one read of each, in that order".to_string(),
        rollback: format!("{detach}; stop {scratch}"),
        critical: true,
    });
    plan.steps.push(Step {
        title: format!("detach {name} from {scratch}"),
        node: ni,
        kind: StepKind::Promote,
        commands: vec![Command::ReplicaOf(None)],
        waits_for: None,
        deadline: None,
        verify: format!("{name} reports role:master"),
        rollback: format!("stop {scratch}"),
        critical: true,
    });
    if !replicas.is_empty() {
        let idx: Vec<usize> = replicas
            .iter()
            .filter_map(|v| {
                let id = v.id?;
                let cfg = group.nodes.get(id.node)?;
                Some(plan.add_node(&cfg.name, &cfg.addr, id))
            })
            .collect();
        plan.steps.push(Step {
            title: format!("wait for {name}'s replicas to follow it again"),
            node: ni,
            kind: StepKind::Verify {
                primary: ni,
                replicas: idx,
            },
            commands: vec![Command::Info(InfoSection::Default)],
            waits_for: Some("same master_replid, link up".to_string()),
            deadline: Some(req.sync_deadline),
            verify: "all conditions hold in one round of reads".to_string(),
            rollback: "none: the restore is done; a replica left behind resyncs by itself"
                .to_string(),
            critical: false,
        });
    }
    plan.steps.push(Step {
        title: format!("stop {scratch}"),
        node: ni,
        kind: StepKind::StopScratch,
        commands: Vec::new(),
        waits_for: None,
        deadline: None,
        verify: "its PID is no longer running".to_string(),
        rollback: "none".to_string(),
        critical: false,
    });
    plan
}

/// The listen address a restore's request carries, or the default (a free loopback port).
#[must_use]
pub fn listen_or_default(listen: Option<Addr>) -> Addr {
    listen.unwrap_or_else(crate::backup::restore::default_listen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::restore::FileCheck;
    use crate::observe::NodeId;
    use crate::ops::fake::FakeOps;
    use crate::ops::node_ref;

    fn from(listen: &str, check: Result<FileCheck, String>) -> RestoreFrom {
        RestoreFrom {
            source: RestoreSource {
                rdb: "/b/x.rdb".into(),
                id: Some("abcd1234".into()),
                bytes: 10,
                taken_from: None,
                taken_at: None,
                expected: None,
                source_version: None,
                aof: false,
                check,
            },
            listen: Addr::parse(listen).unwrap_or_else(|e| panic!("{e}")),
            server_bin: None,
        }
    }

    fn good() -> FileCheck {
        FileCheck {
            crc: "ok".into(),
            rdb_version: 10,
        }
    }

    fn plan(topo: &Topology, config: &Config, node: usize, f: &RestoreFrom) -> Plan {
        let n = node_ref(config, topo, NodeId { group: 0, node })
            .unwrap_or_else(|| panic!("node {node}"));
        plan_restore(
            config,
            topo,
            &n,
            &RestoreRequest {
                from: f,
                budgets: Budgets::default(),
                backups_dir: "/b".into(),
                sync_deadline: DEFAULT_SYNC_DEADLINE,
            },
        )
    }

    fn failures(p: &Plan) -> Vec<(String, bool)> {
        p.failures()
            .map(|c| (c.message.clone(), c.overridable))
            .collect()
    }

    #[test]
    fn an_empty_primary_goes_ahead_and_its_replicas_are_named() {
        let (config, topo) = FakeOps::group(&["p", "r1", "r2"]).config_and_topology("g");
        let p = plan(&topo, &config, 0, &from("127.0.0.1:7777", Ok(good())));
        assert!(p.checks_pass(), "{:?}", failures(&p));
        assert!(p.downloads.is_empty());
        assert_eq!(
            p.gate_skipped.as_deref(),
            Some("p holds no keys: there is nothing to keep")
        );
        assert!(p
            .checks
            .iter()
            .any(|c| c.message.starts_with("r1, r2 follow p: resynced from it")));
        let kinds: Vec<&str> = p.steps.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(kinds.len(), 6, "{kinds:?}");
        assert_eq!(p.confirm, Confirm::TypeName("p".into()));
    }

    #[test]
    fn a_replica_a_bad_file_and_an_unreachable_listen_are_refused() {
        let (config, topo) = FakeOps::group(&["p", "r1"]).config_and_topology("g");
        let p = plan(&topo, &config, 1, &from("127.0.0.1:7777", Ok(good())));
        assert!(p.has_hard_failure());
        assert!(
            failures(&p)[0].0.starts_with("r1 is a replica"),
            "{:?}",
            failures(&p)
        );
        let p = plan(
            &topo,
            &config,
            0,
            &from("127.0.0.1:7777", Err("bad CRC".into())),
        );
        assert_eq!(
            failures(&p),
            [("the backup cannot be restored: bad CRC".to_string(), false)]
        );
        let mut remote = config.clone();
        remote.groups[0].nodes[0].addr =
            Addr::parse("10.0.0.9:6379").unwrap_or_else(|e| panic!("{e}"));
        let p = plan(&topo, &remote, 0, &from("127.0.0.1:7777", Ok(good())));
        assert!(
            failures(&p)
                .iter()
                .any(|(m, o)| !o && m.contains("cannot reach a scratch server")),
            "{:?}",
            failures(&p)
        );
    }

    #[test]
    fn a_node_with_keys_needs_force_and_is_downloaded_first() {
        let (config, mut topo) = FakeOps::group(&["p"]).config_and_topology("g");
        let v = &mut topo.groups[0].nodes[0];
        let mut info = v.info.as_deref().cloned().unwrap_or_default();
        info.keyspace = vec![crate::info::DbKeys {
            db: 0,
            keys: 42,
            ..crate::info::DbKeys::default()
        }];
        v.info = Some(std::sync::Arc::new(info));
        let p = plan(&topo, &config, 0, &from("127.0.0.1:7777", Ok(good())));
        assert_eq!(
            failures(&p),
            [(
                "p holds 42 keys: the restore replaces them (forced, they are downloaded and verified first)"
                    .to_string(),
                true
            )]
        );
        assert_eq!(p.downloads, [0]);
        assert_eq!(p.download_dir.as_deref(), Some(std::path::Path::new("/b")));
    }
}
