//! The rules of [`decide`]: one set for the engine's failure report, the advice on an
//! interrupted run and the console's offer. Those that need what only a run that just failed
//! knows (its old primary, a command still unanswered) apply when the situation has a run.

use super::super::plan::ActionKind;
use super::{Decision, NextStep, NodeFacts, Pending, Seen, Situation};
use crate::topology::Role;

/// The safe next step for `s`. One rule set for every caller; the rules that need what only
/// a failed run knows (its old primary, a command still unanswered) apply when `s.run` is set.
#[must_use]
pub fn decide(s: &Situation) -> Decision {
    let note = s
        .run
        .as_ref()
        .and_then(|r| r.pending.as_ref())
        .map(pending_note);
    let mut d = rules(s);
    d.next = d.next.after(note);
    d
}

/// What to say first about a command that may still run.
fn pending_note(p: &Pending) -> String {
    match p {
        Pending::Demotion { old, target } => format!(
            "if {old} answers again as a replica of {target}, finish the switchover by promoting \
             {target}; if it answers as a primary, it is the primary and nothing else changed"
        ),
        Pending::PromotionAfterDemotion { target, old } => format!(
            "{target} never answered REPLICAOF NO ONE: when it answers it is the only primary (repoint \
             the siblings to it then); if {target} is dead instead, make {old} the primary again once \
             {target} is proven down (promote {old})"
        ),
        Pending::Promotion { target } => format!(
            "{target} never answered REPLICAOF NO ONE: it may still run it and become the primary; look \
             at it again before acting"
        ),
    }
}

fn rules(s: &Situation) -> Decision {
    let names = |f: &dyn Fn(&NodeFacts) -> bool| -> Vec<&str> {
        s.nodes
            .iter()
            .filter(|n| f(n))
            .map(|n| n.name.as_str())
            .collect()
    };
    let primaries: Vec<&NodeFacts> = s.nodes.iter().filter(|n| n.is(Role::Primary)).collect();
    let down = names(&|n| n.seen == Seen::Silent);
    let unreadable = names(&|n| n.seen == Seen::Unreadable);
    let unreachable = if down.is_empty() {
        String::new()
    } else {
        format!("; unreachable: {}", down.join(", "))
    };
    let run = s.run.as_ref();
    let old = run.and_then(|r| r.old_primary.as_deref());

    if let Some(n) = s
        .nodes
        .iter()
        .find(|n| n.repl().is_some_and(|r| r.failing_over))
    {
        let n = &n.name;
        return Decision::open(NextStep::manual(format!(
            "a FAILOVER is still in progress on {n}: abort it with FAILOVER ABORT on {n}, then look again"
        )));
    }
    if let Some(n) = s.rejoin.first() {
        return Decision::open(NextStep::action(
            ActionKind::Rejoin,
            Some(n.clone()),
            format!(
                "{n} is an old primary back with data the current primary does not have: rejoin it as a \
                 replica (its snapshot is downloaded first)"
            ),
        ));
    }
    match primaries.as_slice() {
        [p] if Some(p.name.as_str()) == old
            && down.is_empty()
            && !run.is_some_and(|r| r.demotion_pending) =>
        {
            Decision {
                next: NextStep::manual(format!(
                    "nothing was changed: {} is still the primary and writes resumed; fix the cause above \
                     and run it again",
                    p.name
                )),
                settled: true,
            }
        }
        [] => no_primary(s, old, &down, &unreadable, &unreachable),
        [p] => one_primary(s, p, old, &unreachable),
        many => several_primaries(many, run.is_some()),
    }
}

/// No node answers as a primary: promote (after proving what is lost), unless the old
/// primary is alive but unreadable (promoting would make two) or the run's nodes say nothing
/// clear.
fn no_primary(
    s: &Situation,
    old: Option<&str>,
    down: &[&str],
    unreadable: &[&str],
    unreachable: &str,
) -> Decision {
    if let Some(o) = old.filter(|o| unreadable.contains(o)) {
        return Decision::open(NextStep::manual(format!(
            "{o} answers but cannot be read: it is alive, so promoting another node would make two \
             primaries; fix the access (see its state above) and look again"
        )));
    }
    if let Some(o) = old.filter(|o| down.contains(o)) {
        let captured = s.run.as_ref().and_then(|r| r.captured_offset);
        let proof = match captured {
            Some(off) => {
                let equal = s
                    .nodes
                    .iter()
                    .filter_map(NodeFacts::repl)
                    .all(|r| r.role != Role::Replica || r.replica_offset == Some(off));
                if equal {
                    format!(
                        "every reachable replica is at the captured offset {off}: promoting one loses no \
                         acknowledged write"
                    )
                } else {
                    format!("the captured offset was {off}: promote the replica that reached it")
                }
            }
            None => "no offset was captured after the pause: the loss bound is unknown".to_string(),
        };
        return Decision::open(NextStep::action(
            ActionKind::Promote,
            None,
            format!(
                "{o} is down with writes paused; {proof}; promote, and rejoin {o} as a replica when it is \
                 back"
            ),
        ));
    }
    if let Some((a, b)) = loop_pair(&s.nodes) {
        return Decision::open(NextStep::action(
            ActionKind::Promote,
            None,
            format!(
                "no node takes writes: {a} and {b} replicate from each other at the same offset (a \
                 switchover stopped after demoting the old primary and before promoting its target): \
                 promote the target to finish; either holds every acknowledged write"
            ),
        ));
    }
    if s.run.is_some() {
        return Decision::open(NextStep::manual(format!(
            "look at the state above{unreachable}"
        )));
    }
    if !s.nodes.iter().any(|n| n.repl().is_some()) {
        return Decision::open(NextStep::manual(
            "no node of the group answers: look again once one is back",
        ));
    }
    Decision::open(NextStep::action(
        ActionKind::Promote,
        None,
        "no primary answers: if the replicas form a loop or all lost their primary, promote the most \
         advanced replica",
    ))
}

/// Two nodes that replicate from each other at one offset: what a switchover leaves when it
/// stops between the demotion and the promotion.
fn loop_pair(nodes: &[NodeFacts]) -> Option<(String, String)> {
    nodes.iter().find_map(|a| {
        let ar = a.repl()?;
        let b = nodes
            .iter()
            .find(|b| Some(&b.name) == ar.upstream.as_ref())?;
        let br = b.repl()?;
        (br.upstream.as_deref() == Some(a.name.as_str())
            && a.name < b.name
            && ar.offset.is_some()
            && ar.offset == br.offset)
            .then(|| (a.name.clone(), b.name.clone()))
    })
}

/// One primary: the nodes that do not follow it are repointed to it.
fn one_primary(s: &Situation, p: &NodeFacts, old: Option<&str>, unreachable: &str) -> Decision {
    let p_replid = p.repl().and_then(|r| r.replid.clone());
    let strays: Vec<&str> = s
        .nodes
        .iter()
        .filter(|n| {
            n.repl()
                .is_some_and(|r| r.role == Role::Replica && (!r.link_up || r.replid != p_replid))
        })
        .map(|n| n.name.as_str())
        .collect();
    let repoint = |why: String| {
        NextStep::action(
            ActionKind::Repoint,
            strays.first().map(|n| (*n).to_string()),
            why,
        )
        .from_source(p.name.clone())
    };
    if s.run.is_some() {
        // What the run left: a new primary (bring the others to it), or the old one with a
        // node missing or a demotion that may still run (look).
        return Decision::open(match old {
            Some(o) if o != p.name => repoint(format!(
                "{} is the primary now; bring the remaining nodes to it{unreachable}",
                p.name
            )),
            _ => NextStep::manual(format!("look at the state above{unreachable}")),
        });
    }
    if strays.is_empty() {
        return Decision {
            next: NextStep::manual(format!(
                "the group is consistent: {} is the only primary and every reachable replica follows it; \
                 nothing is left to finish",
                p.name
            )),
            settled: true,
        };
    }
    Decision::open(repoint(format!(
        "{} is the primary; {} {} not follow it with a live link: repoint {} to {}",
        p.name,
        strays.join(", "),
        if strays.len() == 1 { "does" } else { "do" },
        if strays.len() == 1 { "it" } else { "them" },
        p.name
    )))
}

/// Several primaries: the one promoted from another's history is kept, the other rejoins it.
fn several_primaries(many: &[&NodeFacts], after_run: bool) -> Decision {
    let names: Vec<&str> = many.iter().map(|n| n.name.as_str()).collect();
    // The promoted node carries the old history as its replid2.
    let promoted = many.iter().find(|b| {
        let b2 = b.repl().and_then(|r| r.replid2.as_ref());
        b2.is_some()
            && many
                .iter()
                .any(|a| a.repl().and_then(|r| r.replid.as_ref()) == b2)
    });
    let Some(new) = promoted else {
        let why = if after_run {
            format!(
                "more than one primary ({}): demote the one that is not the new primary",
                names.join(", ")
            )
        } else {
            format!(
                "{} primaries ({}) on unrelated histories: choose the one to keep and rejoin the others",
                many.len(),
                names.join(", ")
            )
        };
        return Decision::open(NextStep::action(ActionKind::Rejoin, None, why));
    };
    let old: Vec<&str> = names.iter().copied().filter(|n| *n != new.name).collect();
    let first = old.first().copied().unwrap_or("?");
    Decision::open(
        NextStep::action(
            ActionKind::Rejoin,
            old.first().map(|n| (*n).to_string()),
            format!(
                "{} was promoted from {}'s history but {} is still a primary (split brain): finish the \
                 demotion of {first}: it becomes a replica of {}; writes it took after the promotion are \
                 lost, the rejoin guard shows how many bytes",
                new.name,
                old.join(", "),
                old.join(", "),
                new.name
            ),
        )
        .from_source(new.name.clone()),
    )
}
