//! Hand-built topologies for the drill's unit tests: one group, each node a role, its state
//! and the node it follows.

use std::time::{Duration, SystemTime};

use crate::observe::{NodeId, NodeState};
use crate::topology::{GroupTopology, Link, NodeView, Role, Topology, Upstream};

/// One node: name, role, up or down, the node it replicates from (link up unless `link_down`).
pub struct N {
    pub name: &'static str,
    pub role: Role,
    pub up: bool,
    pub of: Option<&'static str>,
    pub link_down: bool,
}

pub fn primary(name: &'static str) -> N {
    N {
        name,
        role: Role::Primary,
        up: true,
        of: None,
        link_down: false,
    }
}

pub fn replica(name: &'static str, of: &'static str) -> N {
    N {
        name,
        role: Role::Replica,
        up: true,
        of: Some(of),
        link_down: false,
    }
}

pub fn down(mut n: N) -> N {
    n.up = false;
    n
}

pub fn link_down(mut n: N) -> N {
    n.link_down = true;
    n
}

/// The topology of `nodes` as seen at `at` seconds after the epoch.
pub fn topo(at: u64, nodes: &[N]) -> Topology {
    let views = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut v = NodeView::new(
                Some(NodeId { group: 0, node: i }),
                n.name,
                &format!("127.0.0.1:{}", 7000 + i),
            );
            v.role = n.role;
            v.state = if n.up { NodeState::Up } else { NodeState::Down };
            if let Some(of) = n.of {
                let index = nodes.iter().position(|m| m.name == of);
                v.upstream = Some(Upstream {
                    addr: format!("127.0.0.1:{}", 7000 + index.unwrap_or(99)),
                    index,
                });
                v.link = Some(if n.link_down {
                    Link::Down { since: None }
                } else {
                    Link::Up
                });
            }
            v
        })
        .collect();
    Topology {
        at: Some(time(at)),
        groups: vec![GroupTopology {
            index: 0,
            name: "drill".to_string(),
            nodes: views,
            anomalies: Vec::new(),
            sentinel: None,
            cluster: None,
        }],
    }
}

pub fn time(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}
