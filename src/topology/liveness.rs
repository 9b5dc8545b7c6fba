//! Whether a node is alive, as far as this console can prove it: the one definition of "down"
//! that every action decides with (DESIGN invariant 9).
//!
//! A node is down only when it gave this console no answer (connection refused, name not
//! resolved, or no reply within the timeout) *and* no replica that answered has its link to it
//! up. A node that answers with an error (authentication, ACL, `LOADING`, `BUSY`, TLS) is alive,
//! and so is a silent node that a replica still replicates from: promoting around either
//! splits the brain. Pure: reads the group's views, decides nothing else.

use crate::observe::{NodeError, NodeState};

use super::{GroupTopology, Link};

/// What the console can prove about a node being alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Its latest poll answered `INFO`.
    Answers,
    /// It answered with an error: alive, but this console cannot read it.
    Unreadable {
        state: NodeState,
        error: Option<NodeError>,
    },
    /// It gave this console no answer, but `by` (a replica that answered) has its link up to it.
    LinkedFrom {
        state: NodeState,
        error: Option<NodeError>,
        by: String,
    },
    /// It gave no answer, and no replica's link to it is up.
    ProvenDown {
        state: NodeState,
        error: Option<NodeError>,
    },
    /// It has not been polled yet.
    Unknown,
}

impl Liveness {
    /// True only for [`Liveness::ProvenDown`]: the one state in which a node may be replaced.
    #[must_use]
    pub fn is_proven_down(&self) -> bool {
        matches!(self, Self::ProvenDown { .. })
    }

    /// The situation of node `name`, in words.
    #[must_use]
    pub fn describe(&self, name: &str) -> String {
        let why = |state: &NodeState, error: &Option<NodeError>| {
            error
                .as_ref()
                .map_or_else(|| state.as_str().to_string(), ToString::to_string)
        };
        match self {
            Self::Answers => format!("{name} answers"),
            Self::Unreadable { state, error } => format!(
                "{name} answers but cannot be read ({}): it is alive",
                why(state, error)
            ),
            Self::LinkedFrom { state, error, by } => format!(
                "{name} gives this console no answer ({}), but {by}'s link to it is up: it is alive",
                why(state, error)
            ),
            Self::ProvenDown { state, error } => format!(
                "{name} is down ({}) and no replica's link to it is up",
                why(state, error)
            ),
            Self::Unknown => format!("{name} has not been polled yet: whether it is alive is unknown"),
        }
    }

    /// What would let the console read the node (or see that it is down), when it is not
    /// proven down.
    #[must_use]
    pub fn fix(&self) -> Option<String> {
        match self {
            Self::Answers | Self::ProvenDown { .. } => None,
            Self::Unreadable { state, error } => Some(
                error
                    .as_ref()
                    .and_then(NodeError::fix)
                    .unwrap_or_else(|| match state {
                        NodeState::Loading => "wait until it has loaded its dataset".to_string(),
                        NodeState::Busy => "wait for its script to end".to_string(),
                        _ => "make it readable by this console first".to_string(),
                    }),
            ),
            Self::LinkedFrom { .. } => Some(
                "check the network and the address between this console and the node".to_string(),
            ),
            Self::Unknown => Some("wait for the first poll".to_string()),
        }
    }
}

impl GroupTopology {
    /// What is proven about `nodes[index]` being alive. See [`Liveness`].
    #[must_use]
    pub fn liveness(&self, index: usize) -> Liveness {
        let Some(v) = self.nodes.get(index) else {
            return Liveness::Unknown;
        };
        let (state, error) = (v.state, v.error.clone());
        if state == NodeState::Unknown {
            return Liveness::Unknown;
        }
        // A LOADING answer to INFO itself leaves the state "loading" with no fresh INFO.
        if state.is_reachable() && v.info.is_some() && !v.stale_info {
            return Liveness::Answers;
        }
        if !state.is_silent() {
            return Liveness::Unreadable { state, error };
        }
        match self.linked_replica(index) {
            Some(by) => Liveness::LinkedFrom { state, error, by },
            None => Liveness::ProvenDown { state, error },
        }
    }

    /// True when `nodes[index]` is proven down (see [`Liveness`]).
    #[must_use]
    pub fn is_proven_down(&self, index: usize) -> bool {
        self.liveness(index).is_proven_down()
    }

    /// A replica that answered its latest poll and reports its link up to `nodes[index]`.
    fn linked_replica(&self, index: usize) -> Option<String> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != index)
            .find(|(_, r)| {
                !r.stale_info
                    && r.state.is_reachable()
                    && r.link == Some(Link::Up)
                    && r.upstream.as_ref().and_then(|u| u.index) == Some(index)
            })
            .map(|(_, r)| r.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{NodeView, Role, Upstream};
    use std::time::Duration;

    fn node(name: &str, state: NodeState) -> NodeView {
        let mut v = NodeView::new(None, name, "127.0.0.1:7000");
        v.state = state;
        v
    }

    fn replica_of(name: &str, index: usize, link: Link) -> NodeView {
        let mut v = node(name, NodeState::Up);
        v.role = Role::Replica;
        v.link = Some(link);
        v.upstream = Some(Upstream {
            addr: "127.0.0.1:7000".into(),
            index: Some(index),
        });
        v
    }

    fn group(nodes: Vec<NodeView>) -> GroupTopology {
        GroupTopology {
            nodes,
            ..GroupTopology::default()
        }
    }

    const DOWN: Link = Link::Down {
        since: Some(Duration::from_secs(5)),
    };

    #[test]
    fn only_silence_without_a_live_link_is_down() {
        for (state, down) in [
            (NodeState::Down, true),
            (NodeState::Unresponsive, true),
            (NodeState::AuthError, false),
            (NodeState::NoPerm, false),
            (NodeState::Busy, false),
            (NodeState::Loading, false),
            (NodeState::Stale, false),
            (NodeState::TlsError, false),
            (NodeState::Error, false),
            (NodeState::Unknown, false),
            (NodeState::Up, false),
        ] {
            let g = group(vec![node("p", state), replica_of("r", 0, DOWN)]);
            assert_eq!(g.is_proven_down(0), down, "{state:?}: {:?}", g.liveness(0));
        }
    }

    #[test]
    fn a_replica_with_its_link_up_proves_the_primary_alive() {
        for state in [NodeState::Down, NodeState::Unresponsive] {
            let g = group(vec![
                node("p", state),
                replica_of("r1", 0, DOWN),
                replica_of("r2", 0, Link::Up),
            ]);
            let l = g.liveness(0);
            assert!(
                matches!(&l, Liveness::LinkedFrom { by, .. } if by == "r2"),
                "{l:?}"
            );
            assert!(l.describe("p").contains("r2's link to it is up"), "{l:?}");
        }
    }

    #[test]
    fn a_stale_or_foreign_link_proves_nothing() {
        let mut stale = replica_of("r1", 0, Link::Up);
        stale.stale_info = true;
        stale.state = NodeState::Unresponsive;
        let elsewhere = replica_of("r2", 3, Link::Up);
        let g = group(vec![node("p", NodeState::Down), stale, elsewhere]);
        assert!(g.is_proven_down(0), "{:?}", g.liveness(0));
    }

    #[test]
    fn an_unreadable_node_says_what_to_fix() {
        let mut p = node("p", NodeState::NoPerm);
        p.error = Some(NodeError::NoPerm("info".into()));
        let g = group(vec![p]);
        let l = g.liveness(0);
        assert!(
            l.describe("p").starts_with("p answers but cannot be read"),
            "{l:?}"
        );
        assert_eq!(l.fix().as_deref(), Some("the ACL user needs +info"));
        let mut a = node("a", NodeState::AuthError);
        a.error = Some(NodeError::Auth("NOAUTH Authentication required.".into()));
        assert!(group(vec![a])
            .liveness(0)
            .fix()
            .is_some_and(|f| f.contains("password")));
    }
}
