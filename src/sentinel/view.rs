//! The group's Sentinel summary and its anomalies, from the latest report of each sentinel:
//! pure, no I/O. [`annotate`] puts both into a built topology, before anything is held back
//! for confirmation, so Sentinel's words reach the console, `status` and `watch` alike.
//!
//! It also keeps Sentinel's own failovers from raising false alarms: a node that still says
//! "primary" while a quorum of the sentinels names another master, and that Sentinel reaches
//! and lists among that master's replicas, is being demoted by Sentinel (which takes a second
//! or two); its split-brain / stale-primary alarm is replaced by a note saying so. A node
//! Sentinel cannot reach keeps its alarm: clients may still write to it.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::events::SentinelEvent;
use super::{Seen, SentinelReport};
use crate::config::{Addr, Config};
use crate::topology::{Anomaly, AnomalyKind, GroupTopology, NodeView, Role, Severity, Topology};

/// One sentinel as shown: reachable or not, and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct SentinelRow {
    pub addr: String,
    /// The error when it did not answer (or answered nonsense).
    pub error: Option<String>,
    /// Not polled yet.
    pub pending: bool,
    /// The master name is unknown to it.
    pub unknown_master: bool,
    /// The master it names (`host:port`), and the group's node name at that address.
    pub master: Option<String>,
    pub master_node: Option<String>,
    pub flags: Vec<String>,
    pub quorum: Option<u64>,
    /// `CKQUORUM`: `Some(Ok)` reachable, `Some(Err)` with Sentinel's words.
    pub ckquorum: Option<Result<String, String>>,
    pub failover_state: Option<String>,
    pub epoch: Option<u64>,
    pub tilt: bool,
    pub other_sentinels: Option<u64>,
}

impl SentinelRow {
    /// It answered.
    #[must_use]
    pub fn is_up(&self) -> bool {
        self.error.is_none() && !self.pending
    }
}

/// A Sentinel group's summary: one row per configured sentinel, and the master a majority
/// of the answering ones names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupSentinel {
    pub master_name: String,
    pub rows: Vec<SentinelRow>,
    /// The master named by most answering sentinels (`host:port`), with its node name.
    pub master: Option<String>,
    pub master_node: Option<String>,
    /// How many sentinels name [`master`](Self::master).
    pub agreeing: usize,
}

impl GroupSentinel {
    /// Some sentinel reports a failover under way.
    #[must_use]
    pub fn failover_in_progress(&self) -> bool {
        self.rows.iter().any(|r| {
            r.flags.iter().any(|f| f == "failover_in_progress")
                || r.failover_state
                    .as_deref()
                    .is_some_and(|s| !s.is_empty() && s != "none")
        })
    }

    /// `CKQUORUM` across the sentinels that answered it: `Some(true)` when every one passed,
    /// `Some(false)` when one failed, `None` when none was asked.
    #[must_use]
    pub fn quorum_reachable(&self) -> Option<bool> {
        let mut checked = self
            .rows
            .iter()
            .filter_map(|r| r.ckquorum.as_ref().map(Result::is_ok))
            .peekable();
        checked.peek()?;
        Some(checked.all(|ok| ok))
    }

    /// The quorum configured (largest any sentinel reports), else a majority of the list.
    #[must_use]
    pub fn quorum(&self) -> usize {
        self.rows
            .iter()
            .filter_map(|r| r.quorum)
            .max()
            .and_then(|q| usize::try_from(q).ok())
            .unwrap_or(self.rows.len() / 2 + 1)
    }
}

fn node_at<'a>(nodes: &'a [NodeView], addr: &Addr) -> Option<&'a NodeView> {
    let text = addr.to_string();
    nodes.iter().find(|n| !n.unmanaged && n.addr == text)
}

fn row(addr: &Addr, report: Option<&SentinelReport>, nodes: &[NodeView]) -> SentinelRow {
    let mut row = SentinelRow {
        addr: addr.to_string(),
        error: None,
        pending: report.is_none(),
        unknown_master: false,
        master: None,
        master_node: None,
        flags: Vec::new(),
        quorum: None,
        ckquorum: None,
        failover_state: None,
        epoch: None,
        tilt: false,
        other_sentinels: None,
    };
    let Some(r) = report else { return row };
    let seen: &Seen = match &r.seen {
        Ok(s) => s,
        Err(e) => {
            row.error = Some(e.to_string());
            return row;
        }
    };
    row.tilt = seen.info.tilt;
    row.ckquorum.clone_from(&seen.quorum);
    match &seen.master {
        None => row.unknown_master = true,
        Some(m) => {
            row.master = m.addr.as_ref().map(ToString::to_string);
            row.master_node = m
                .addr
                .as_ref()
                .and_then(|a| node_at(nodes, a))
                .map(|n| n.name.clone());
            row.flags.clone_from(&m.flags);
            row.quorum = m.quorum;
            row.failover_state = m.failover_state.clone().filter(|s| s != "none");
            row.epoch = m.config_epoch;
            row.other_sentinels = m.num_other_sentinels;
        }
    }
    row
}

/// The summary of one group from the latest reports (`latest` holds at most one per address).
#[must_use]
pub fn summarise(
    master_name: &str,
    addrs: &[Addr],
    latest: &[SentinelReport],
    nodes: &[NodeView],
) -> GroupSentinel {
    let rows: Vec<SentinelRow> = addrs
        .iter()
        .map(|a| row(a, latest.iter().find(|r| &r.addr == a), nodes))
        .collect();
    let mut votes: Vec<(String, usize)> = Vec::new();
    for m in rows.iter().filter_map(|r| r.master.as_ref()) {
        match votes.iter_mut().find(|(v, _)| v == m) {
            Some((_, n)) => *n += 1,
            None => votes.push((m.clone(), 1)),
        }
    }
    let best = votes.iter().max_by_key(|(_, n)| *n).cloned();
    let master_node = best.as_ref().and_then(|(m, _)| {
        rows.iter()
            .find(|r| r.master.as_ref() == Some(m))
            .and_then(|r| r.master_node.clone())
    });
    GroupSentinel {
        master_name: master_name.to_string(),
        rows,
        agreeing: best.as_ref().map_or(0, |(_, n)| *n),
        master: best.map(|(m, _)| m),
        master_node,
    }
}

fn push(out: &mut Vec<Anomaly>, kind: AnomalyKind, severity: Severity, nodes: &[&str], m: String) {
    out.push(Anomaly {
        kind,
        severity,
        nodes: nodes.iter().map(|s| (*s).to_string()).collect(),
        message: m,
    });
}

/// The anomalies Sentinel's view shows, in plain words.
#[must_use]
pub fn anomalies(s: &GroupSentinel, g: &GroupTopology, reports: &[SentinelReport]) -> Vec<Anomaly> {
    let mut out = Vec::new();
    reachability(s, &mut out);
    agreement(s, g, &mut out);
    state(s, &mut out);
    replicas(s, g, reports, &mut out);
    out
}

/// Sentinels that do not answer, do not know the master name, or cannot reach the quorum.
fn reachability(s: &GroupSentinel, out: &mut Vec<Anomaly>) {
    let name = &s.master_name;
    for r in s.rows.iter().filter(|r| r.error.is_some()) {
        push(
            out,
            AnomalyKind::SentinelDown,
            Severity::Warning,
            &[],
            format!(
                "sentinel {} does not answer ({}): it takes no part in detecting a failure or \
                 voting for a failover",
                r.addr,
                r.error.as_deref().unwrap_or("")
            ),
        );
    }
    let answering = s.rows.iter().filter(|r| r.is_up()).count();
    let polled = s.rows.iter().all(|r| !r.pending);
    if polled && answering < s.quorum() {
        push(
            out,
            AnomalyKind::SentinelQuorum,
            Severity::Critical,
            &[],
            format!(
                "only {answering} of {} sentinels answer, fewer than the quorum of {}: if the \
                 primary fails, nothing fails over",
                s.rows.len(),
                s.quorum()
            ),
        );
    }
    for r in s.rows.iter().filter(|r| r.unknown_master) {
        push(
            out,
            AnomalyKind::SentinelUnknownMaster,
            Severity::Critical,
            &[],
            format!(
                "sentinel {} does not monitor a master named '{name}': check master_name in \
                 the config, or that this sentinel was given `sentinel monitor {name} …`",
                r.addr
            ),
        );
    }
    if let Some(r) = s.rows.iter().find(|r| matches!(&r.ckquorum, Some(Err(_)))) {
        let words = match &r.ckquorum {
            Some(Err(w)) => crate::sanitize::visible(w).into_owned(),
            _ => String::new(),
        };
        // Any sentinel that reaches the quorum can lead a failover: one that cannot on its own
        // (just reset, still finding its peers) leaves the group covered.
        let passing: Vec<&str> = s
            .rows
            .iter()
            .filter(|r| matches!(&r.ckquorum, Some(Ok(_))))
            .map(|r| r.addr.as_str())
            .collect();
        let (severity, message) = if passing.is_empty() {
            (
                Severity::Critical,
                format!(
                    "sentinel {} cannot reach the quorum for '{name}' ({words}): a failed \
                     primary would not be replaced",
                    r.addr
                ),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "sentinel {} cannot reach the quorum for '{name}' on its own ({words}; it \
                     knows {} other sentinel(s)): {} can, so a failed primary is still replaced \
                     (a sentinel just reset finds its peers within seconds)",
                    r.addr,
                    r.other_sentinels
                        .map_or_else(|| "?".to_string(), |n| n.to_string()),
                    passing.join(", ")
                ),
            )
        };
        push(out, AnomalyKind::SentinelQuorum, severity, &[], message);
    }
}

/// Sentinels that disagree with each other, or with the data nodes, on the master.
fn agreement(s: &GroupSentinel, g: &GroupTopology, out: &mut Vec<Anomaly>) {
    let name = &s.master_name;
    let masters: Vec<&str> = {
        let mut m: Vec<&str> = s.rows.iter().filter_map(|r| r.master.as_deref()).collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    let failing_over = s.failover_in_progress();
    if masters.len() > 1 {
        let who: Vec<String> = s
            .rows
            .iter()
            .filter_map(|r| {
                let m = r.master_node.as_ref().or(r.master.as_ref())?;
                Some(format!("{} names {m}", r.addr))
            })
            .collect();
        // Sentinels learn a failover from each other's hello messages (every 2 s): one with
        // a newer config epoch than the others is news still spreading, not a conflict.
        let epochs: Vec<u64> = s.rows.iter().filter_map(|r| r.epoch).collect();
        let spreading = epochs.iter().min() != epochs.iter().max();
        let (severity, tail) = if failing_over || spreading {
            (
                Severity::Warning,
                " (a failover is spreading: they should agree within seconds)",
            )
        } else {
            (
                Severity::Critical,
                ": clients asking different sentinels write to different servers",
            )
        };
        push(
            out,
            AnomalyKind::SentinelDisagree,
            severity,
            &[],
            format!(
                "the sentinels disagree on the master: {}{tail}",
                who.join(", ")
            ),
        );
    }
    if let Some(m) = &s.master {
        match s.master_node.as_deref().and_then(|n| g.by_name(n)) {
            None => push(
                out,
                AnomalyKind::SentinelMasterMismatch,
                Severity::Critical,
                &[],
                format!(
                    "the sentinels name {m} as the master of '{name}', which is not a node of \
                     this group: the config lists other servers than Sentinel watches"
                ),
            ),
            Some(n) if n.role == Role::Replica && !failing_over => push(
                out,
                AnomalyKind::SentinelMasterMismatch,
                Severity::Critical,
                &[n.name.as_str()],
                format!(
                    "the sentinels name {} as the master, but it reports itself a replica: \
                     clients that ask Sentinel are sent to a server that refuses writes",
                    n.name
                ),
            ),
            _ => {}
        }
    }
}

/// TILT, and a failover under way.
fn state(s: &GroupSentinel, out: &mut Vec<Anomaly>) {
    let name = &s.master_name;
    if let Some(r) = s.rows.iter().find(|r| r.tilt) {
        push(
            out,
            AnomalyKind::SentinelTilt,
            Severity::Warning,
            &[],
            format!(
                "sentinel {} is in TILT mode (its clock or process stalled): it watches but \
                 acts on nothing until it leaves TILT (30 s without a stall)",
                r.addr
            ),
        );
    }
    if let Some(r) = s.rows.iter().find(|r| r.failover_state.is_some()) {
        push(
            out,
            AnomalyKind::FailoverInProgress,
            Severity::Warning,
            &[],
            format!(
                "Sentinel is failing over '{name}' (state {}, epoch {}): roles are changing; \
                 wait for it to finish",
                r.failover_state.as_deref().unwrap_or("?"),
                r.epoch.map_or_else(|| "?".to_string(), |e| e.to_string())
            ),
        );
    }
}

/// Replicas that Sentinel (the first sentinel that answered with a list) would not promote.
fn replicas(
    s: &GroupSentinel,
    g: &GroupTopology,
    reports: &[SentinelReport],
    out: &mut Vec<Anomaly>,
) {
    let Some(seen) = reports
        .iter()
        .filter_map(|r| r.seen.as_ref().ok())
        .find(|seen| seen.master.is_some())
    else {
        return;
    };
    // Sentinel's own rule (`sentinelSelectSlave`): a replica whose link has been down longer
    // than 10 x down-after-milliseconds is not a candidate. A shorter outage (a resync, a
    // reconfiguration Sentinel has not re-read yet) is not worth a word.
    let down_after = seen
        .master
        .as_ref()
        .and_then(|m| m.down_after_ms)
        .unwrap_or(30_000);
    let too_long = down_after.saturating_mul(10);
    for r in &seen.replicas {
        let Some(addr) = &r.addr else { continue };
        let who = node_at(&g.nodes, addr).map_or_else(|| addr.to_string(), |n| n.name.clone());
        let why = if r.is_down() {
            Some(format!("Sentinel sees it down ({})", r.flags.join(",")))
        } else if r.priority == Some(0) {
            Some("its replica-priority is 0".to_string())
        } else if r.link_ok == Some(false) && r.link_down_ms.is_some_and(|ms| ms > too_long) {
            Some(format!(
                "its link to the master has been down for {} s (Sentinel skips a replica \
                 disconnected for more than 10 x down-after-milliseconds)",
                r.link_down_ms.unwrap_or(0) / 1000
            ))
        } else {
            None
        };
        if let Some(why) = why {
            push(
                out,
                AnomalyKind::SentinelReplica,
                if r.priority == Some(0) && !r.is_down() {
                    Severity::Info
                } else {
                    Severity::Warning
                },
                &[who.as_str()],
                format!(
                    "Sentinel would not promote {who} for '{}': {why}",
                    s.master_name
                ),
            );
        }
    }
}

/// Nodes reporting "primary" that a quorum of the sentinels has already replaced and is
/// demoting: named by none of them as master, listed by the sentinels as a reachable replica.
fn being_demoted(s: &GroupSentinel, g: &GroupTopology, reports: &[SentinelReport]) -> Vec<String> {
    let Some(master) = &s.master else {
        return Vec::new();
    };
    if s.agreeing < s.quorum() {
        return Vec::new();
    }
    g.nodes
        .iter()
        .filter(|n| n.role == Role::Primary && !n.unmanaged && &n.addr != master)
        .filter(|n| {
            reports
                .iter()
                .filter_map(|r| r.seen.as_ref().ok())
                .any(|seen| {
                    seen.replicas.iter().any(|r| {
                        r.addr.as_ref().is_some_and(|a| a.to_string() == n.addr) && !r.is_down()
                    })
                })
        })
        .map(|n| n.name.clone())
        .collect()
}

/// How long an aborted failover stays an anomaly unless a later failover ends or switches.
const ABORT_SHOWN: Duration = Duration::from_secs(120);

/// How long an event is held to drop the same words from another sentinel.
const SAME_EVENT: Duration = Duration::from_secs(3);

/// Latest report per sentinel, per group, and what the event channels said that the view
/// needs: what the monitor keeps between cycles.
#[derive(Debug, Clone, Default)]
pub struct Latest {
    by_group: HashMap<usize, Vec<SentinelReport>>,
    /// Events of the last [`SAME_EVENT`]: (at, group, channel, payload).
    recent: Vec<(SystemTime, usize, String, String)>,
    /// The last aborted failover of each group: when, and Sentinel's reason.
    aborts: HashMap<usize, (SystemTime, String)>,
}

impl Latest {
    /// Keeps `r` in place of the earlier report of the same sentinel.
    pub fn record(&mut self, r: SentinelReport) {
        let list = self.by_group.entry(r.group).or_default();
        list.retain(|x| x.addr != r.addr);
        list.push(r);
    }

    /// Takes in an event; false when another sentinel said the same in the last seconds.
    pub fn record_event(&mut self, ev: &SentinelEvent) -> bool {
        let fresh = |t: &SystemTime| ev.at.duration_since(*t).is_ok_and(|d| d < SAME_EVENT);
        self.recent.retain(|(t, ..)| fresh(t));
        if self
            .recent
            .iter()
            .any(|(_, g, c, p)| *g == ev.group && *c == ev.channel && *p == ev.payload)
        {
            return false;
        }
        self.recent
            .push((ev.at, ev.group, ev.channel.clone(), ev.payload.clone()));
        if let Some(reason) = ev.channel.strip_prefix("-failover-abort-") {
            self.aborts.insert(ev.group, (ev.at, reason.to_string()));
        } else if ev.channel == "+switch-master" || ev.channel == "+failover-end" {
            self.aborts.remove(&ev.group);
        }
        true
    }

    /// The reports of group `i`.
    #[must_use]
    pub fn group(&self, i: usize) -> &[SentinelReport] {
        self.by_group.get(&i).map_or(&[], Vec::as_slice)
    }
}

/// Adds each Sentinel group's summary and anomalies to `topo`, and replaces the split-brain
/// and stale-primary alarms of nodes Sentinel is demoting with a note.
pub fn annotate(topo: &mut Topology, config: &Config, latest: &Latest) {
    let topo_at = topo.at;
    for g in &mut topo.groups {
        let Some(cfg) = config.groups.get(g.index).and_then(|c| c.sentinel.as_ref()) else {
            continue;
        };
        let reports = latest.group(g.index);
        let s = summarise(&cfg.master_name, &cfg.addrs, reports, &g.nodes);
        let demoted = being_demoted(&s, g, reports);
        if !demoted.is_empty() {
            g.anomalies.retain(|a| {
                !matches!(a.kind, AnomalyKind::SplitBrain | AnomalyKind::StalePrimary)
                    || !a.nodes.iter().any(|n| demoted.contains(n))
            });
            let failing_over = s.failover_in_progress();
            let master = s
                .master_node
                .as_deref()
                .or(s.master.as_deref())
                .unwrap_or("?");
            for n in &demoted {
                let message = if failing_over {
                    format!(
                        "{n} and {master} both say primary while Sentinel fails over: Sentinel \
                         reaches both and is reconfiguring them"
                    )
                } else {
                    format!(
                        "{n} still says primary, but the sentinels name {master} as the master \
                         and are turning {n} into its replica (Sentinel reaches it): a write \
                         {n} takes until then is lost"
                    )
                };
                push(
                    &mut g.anomalies,
                    AnomalyKind::SentinelDemoting,
                    Severity::Warning,
                    &[n.as_str()],
                    message,
                );
            }
        }
        g.anomalies.extend(anomalies(&s, g, reports));
        if let (Some((at, reason)), Some(now)) = (latest.aborts.get(&g.index), topo_at) {
            if now.duration_since(*at).unwrap_or_default() < ABORT_SHOWN {
                push(
                    &mut g.anomalies,
                    AnomalyKind::SentinelFailoverAborted,
                    Severity::Critical,
                    &[],
                    format!(
                        "Sentinel's failover of '{}' aborted {} ago: {}",
                        s.master_name,
                        crate::timefmt::age(now, *at),
                        super::events::abort_reason(reason)
                    ),
                );
            }
        }
        g.anomalies
            .sort_by(|a, b| b.severity.cmp(&a.severity).then(a.kind.cmp(&b.kind)));
        g.sentinel = Some(s);
    }
}

#[cfg(test)]
mod tests;
