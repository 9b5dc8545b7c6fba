//! Guarded actions: plans, pre-checks, the engine that runs them, the snapshot gate, and the
//! actions themselves (snapshot, switchover, failback; promote, repoint/rejoin and restore build
//! on the same framework).
//!
//! An action is a module with a pure function that turns the live topology and a request into a
//! [`Plan`]. The [`engine`] runs any plan through [`RedisOps`] and enforces every safety rule
//! (read-only, pre-checks or recorded overrides, confirmation, snapshot gate, HA managers, the
//! one-console lock) whatever the front-end; [`guard`] is that decision as one function the
//! front-ends call too. Front-ends go through [`session`]: a [`Request`] (keyed by
//! [`ActionKind`]) is prepared into a plan with every refusal decided, then executed (audit log,
//! named connections, engine, after-run marks). Nothing here prints or imports a UI crate.

pub mod checks;
pub mod engine;
pub mod error;
#[cfg(any(test, feature = "test-support"))]
pub mod fake;
pub mod guard;
pub mod lock;
pub mod next_step;
pub mod plan;
pub mod progress;
pub mod promote;
pub mod recovery;
pub mod redis_ops;
pub mod repoint;
pub mod request;
pub mod restore;
pub mod sentinel_reset;
pub mod session;
pub mod snapshot;
pub mod summary;
pub mod switchover;

pub use engine::{run, Approval, RunEvent, RunOutcome, RunStatus};
pub use error::{ErrorKind, OpsError, OpsResult};
pub use guard::Refusal;
pub use next_step::NextStep;
pub use plan::{
    ActionKind, Budgets, Check, CheckStatus, Confirm, Note, NoteKind, Plan, PlanNode, Step,
    StepKind, Strategy,
};
pub use redis_ops::{Command, RealOps, RedisOps, Reply};
pub use request::{Download, Request, RestoreFrom};

use crate::config::{Addr, AddrError, Config, Group, Node};
use crate::observe::NodeId;
use crate::topology::{GroupTopology, NodeView, Topology};

/// A configured node together with what the latest poll saw of it.
#[derive(Debug, Clone, Copy)]
pub struct NodeRef<'a> {
    pub group_name: &'a str,
    pub group_index: usize,
    pub id: NodeId,
    pub cfg: &'a Node,
    pub view: Option<&'a NodeView>,
}

/// True when `query` names `node`: its configured name, its address as written, or the same
/// host and port.
#[must_use]
pub fn matches_node(node: &Node, query: &str) -> bool {
    let q = query.trim();
    node.name == q || node.addr.to_string() == q || Addr::parse(q).is_ok_and(|a| a == node.addr)
}

/// Finds a node by name or address in any group.
///
/// # Errors
/// A usage error: no node matches, or several in different groups do (the hint lists the
/// known nodes, or says to scope the group).
pub fn find_node<'a>(
    config: &'a Config,
    topology: &'a Topology,
    query: &str,
) -> OpsResult<NodeRef<'a>> {
    if let Err(e @ AddrError::Credentials { .. }) = Addr::parse(query) {
        // Refused before "no node named '...'", which would repeat the password.
        return Err(OpsError::usage(e.to_string()).hint(
            "name the node, or give its host:port; credentials come from the config or the \
             login options",
        ));
    }
    let mut found = Vec::new();
    for (gi, g) in config.groups.iter().enumerate() {
        for (ni, n) in g.nodes.iter().enumerate() {
            if matches_node(n, query) {
                found.push(node_ref(
                    config,
                    topology,
                    NodeId {
                        group: gi,
                        node: ni,
                    },
                ));
            }
        }
    }
    let unknown = || OpsError::usage(format!("no node named '{query}'"));
    match found.len() {
        0 => {
            let known: Vec<String> = config
                .groups
                .iter()
                .flat_map(|g| g.nodes.iter().map(|n| format!("{} ({})", n.name, n.addr)))
                .collect();
            Err(unknown().hint(format!("known nodes are: {}", known.join(", "))))
        }
        1 => found.pop().flatten().ok_or_else(unknown),
        _ => Err(
            OpsError::usage(format!("'{query}' names nodes in several groups"))
                .hint("say which group it is in (the group option scopes the targets)"),
        ),
    }
}

/// The [`NodeRef`] of a configured node id.
#[must_use]
pub fn node_ref<'a>(config: &'a Config, topology: &'a Topology, id: NodeId) -> Option<NodeRef<'a>> {
    let g: &Group = config.groups.get(id.group)?;
    Some(NodeRef {
        group_name: &g.name,
        group_index: id.group,
        id,
        cfg: g.nodes.get(id.node)?,
        view: topology.node(id),
    })
}

/// The topology of a configured group (an empty one when the topology lacks it).
#[must_use]
pub fn group_topology(topology: &Topology, index: usize) -> GroupTopology {
    topology
        .groups
        .iter()
        .find(|g| g.index == index)
        .cloned()
        .unwrap_or_else(|| GroupTopology {
            index,
            ..GroupTopology::default()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let node = Node {
            name: "n1".into(),
            addr: Addr::parse("127.0.0.1:7001").unwrap_or_else(|e| panic!("{e}")),
            username: None,
            password: None,
            tls: None,
        };
        Config {
            console: crate::config::Console::default(),
            groups: vec![Group::new("g", vec![node])],
            source: None,
        }
    }

    #[test]
    fn nodes_are_found_by_url_and_a_url_with_a_password_is_refused_unseen() {
        let (c, t) = (config(), Topology::default());
        for q in ["redis://127.0.0.1:7001", "rediss://127.0.0.1:7001/0", "n1"] {
            assert_eq!(
                find_node(&c, &t, q).map(|n| n.cfg.name.as_str()),
                Ok("n1"),
                "{q}"
            );
        }
        let e = find_node(&c, &t, "redis://ops:hunter2@127.0.0.1:7001")
            .map(|n| n.cfg.name.clone())
            .unwrap_err();
        let shown = format!("{} {}", e.message, e.hint.unwrap_or_default());
        assert!(
            !shown.contains("hunter2") && shown.contains("shell history"),
            "{shown}"
        );
    }
}
