//! Sentinel's event channels (`+sdown`, `+odown`, `+try-failover`, `+elected-leader`,
//! `+failover-state-*`, `+switch-master`, `-failover-abort-*`, `+tilt`, …) as the event log's
//! source: one subscription per sentinel (reconnected with a bounded backoff), each message
//! decoded into plain words naming the group's nodes. Messages for other masters a sentinel
//! watches are dropped; payloads are untrusted (cut to a bounded length, made terminal-safe).

use std::time::{Duration, SystemTime};

use futures::StreamExt as _;
use tokio::sync::mpsc;

use crate::config::Addr;
use crate::topology::{GroupTopology, Severity};

/// The channel patterns subscribed to.
pub const PATTERNS: &[&str] = &[
    "+sdown",
    "-sdown",
    "+odown",
    "-odown",
    "+try-failover",
    "+elected-leader",
    "+failover-state-*",
    "+selected-slave",
    "+promoted-slave",
    "+failover-end*",
    "+switch-master",
    "-failover-abort-*",
    "+convert-to-slave",
    "+tilt",
    "-tilt",
];

/// The longest payload kept (Sentinel's are under 200 bytes).
const MAX_PAYLOAD: usize = 512;

/// One message from a sentinel's event channels.
#[derive(Debug, Clone, PartialEq)]
pub struct SentinelEvent {
    pub group: usize,
    pub sentinel: Addr,
    pub channel: String,
    pub payload: String,
    pub at: SystemTime,
}

/// Why a failover aborted, in plain words (Sentinel's `-failover-abort-<reason>`).
#[must_use]
pub fn abort_reason(reason: &str) -> String {
    match reason {
        "not-elected" => "this sentinel was not elected to lead it (another one may lead, or \
                          the votes split; it tries again after twice the failover-timeout)"
            .to_string(),
        "no-good-slave" => "no replica is fit to promote (each is down, disconnected too long, \
                            or has replica-priority 0)"
            .to_string(),
        "slave-timeout" => {
            "the chosen replica did not report itself primary within the failover-timeout"
                .to_string()
        }
        other => format!("Sentinel's reason: {other}"),
    }
}

/// `<type> <name> <ip> <port> @ <master-name> <ip> <port>` (or the master alone): the
/// instance's type, its address, and the master name the event is about.
fn instance(payload: &str) -> (Option<&str>, Option<Addr>, Option<&str>) {
    let w: Vec<&str> = payload.split_whitespace().collect();
    let addr = match (w.get(2), w.get(3).and_then(|p| p.parse().ok())) {
        (Some(h), Some(port)) => Some(Addr {
            host: (*h).to_string(),
            port,
        }),
        _ => None,
    };
    let master = match w.iter().position(|x| *x == "@") {
        Some(i) => w.get(i + 1).copied(),
        None => w.get(1).copied(),
    };
    (w.first().copied(), addr, master)
}

fn name_of(g: &GroupTopology, a: &Addr) -> String {
    let text = a.to_string();
    g.nodes
        .iter()
        .find(|n| n.addr == text)
        .map_or(text, |n| n.name.clone())
}

/// The event for group `master_name`, in words with a severity and the node it concerns;
/// `None` for an event about another master (or one that names none).
#[must_use]
pub fn describe(
    ev: &SentinelEvent,
    master_name: &str,
    g: &GroupTopology,
) -> Option<(Severity, Option<String>, String)> {
    let s = &ev.sentinel;
    let ch = ev.channel.as_str();
    if ch == "+switch-master" {
        let w: Vec<&str> = ev.payload.split_whitespace().collect();
        if w.first() != Some(&master_name) || w.len() < 5 {
            return None;
        }
        let at = |h: &str, p: &str| {
            p.parse().ok().map_or_else(
                || format!("{h}:{p}"),
                |port| {
                    name_of(
                        g,
                        &Addr {
                            host: h.to_string(),
                            port,
                        },
                    )
                },
            )
        };
        let (old, new) = (at(w[1], w[2]), at(w[3], w[4]));
        return Some((
            Severity::Warning,
            Some(new.clone()),
            format!("sentinel {s}: switched '{master_name}' from {old} to {new}"),
        ));
    }
    let (kind, addr, master) = instance(&ev.payload);
    if master != Some(master_name) {
        return None;
    }
    let who = addr.as_ref().map(|a| name_of(g, a));
    let what = match kind {
        Some("master") => format!("the master {}", who.clone().unwrap_or_default()),
        Some("slave") => format!("replica {}", who.clone().unwrap_or_default()),
        Some("sentinel") => format!("sentinel {}", who.clone().unwrap_or_default()),
        _ => who.clone().unwrap_or_default(),
    };
    // `+odown` ends with `#quorum 2/2`.
    let epoch = ev
        .payload
        .split_once('#')
        .map(|(_, q)| format!(" ({})", q.trim()))
        .unwrap_or_default();
    let (sev, words) = match ch {
        "+sdown" => (Severity::Warning, format!("sees {what} down")),
        "-sdown" => (Severity::Info, format!("sees {what} up again")),
        "+odown" => (
            Severity::Critical,
            format!("the sentinels agree {what} is down{epoch}: a failover follows"),
        ),
        "-odown" => (Severity::Info, format!("{what} is no longer agreed down")),
        "+try-failover" => (Severity::Warning, "starts a failover".to_string()),
        "+elected-leader" => (
            Severity::Info,
            "was elected to lead the failover".to_string(),
        ),
        "+selected-slave" => (Severity::Info, format!("chose {what} to promote")),
        "+promoted-slave" => (Severity::Info, format!("{what} is promoted")),
        "+convert-to-slave" => (
            Severity::Info,
            format!("turns {what} into a replica of the current master"),
        ),
        "+failover-end" => (Severity::Info, "the failover finished".to_string()),
        "+failover-end-for-timeout" => (
            Severity::Warning,
            "the failover ended by its timeout: some replicas may not point at the new \
             master yet"
                .to_string(),
        ),
        "+tilt" => (
            Severity::Warning,
            "entered TILT mode: it acts on nothing for 30 s".to_string(),
        ),
        "-tilt" => (Severity::Info, "left TILT mode".to_string()),
        c if c.starts_with("+failover-state-") => (
            Severity::Info,
            format!(
                "failover step: {}",
                c.trim_start_matches("+failover-state-")
            ),
        ),
        c if c.starts_with("-failover-abort-") => (
            Severity::Critical,
            format!(
                "the failover aborted: {}",
                abort_reason(c.trim_start_matches("-failover-abort-"))
            ),
        ),
        _ => return None,
    };
    Some((sev, who, format!("sentinel {s}: {words}")))
}

/// Subscribes to one sentinel's events and sends them until the receiver is gone;
/// reconnects after a failure, waiting 1 s, then up to 10 s. Connecting and subscribing are
/// bounded by `connect` (times 4 for the subscriptions); waiting for a message is not: a
/// silent sentinel is the poller's to report.
pub async fn subscribe(
    group: usize,
    sentinel: Addr,
    connect: Duration,
    tx: mpsc::Sender<super::SentinelFeed>,
) {
    let mut wait = Duration::from_secs(1);
    loop {
        if let Ok(client) = redis::Client::open(format!("redis://{sentinel}")) {
            if let Ok(Ok(mut ps)) = tokio::time::timeout(connect, client.get_async_pubsub()).await {
                // Bounded: a frozen sentinel accepts the connection and answers nothing.
                let subscribed = tokio::time::timeout(connect * 4, async {
                    for p in PATTERNS {
                        ps.psubscribe(*p).await?;
                    }
                    Ok::<(), redis::RedisError>(())
                })
                .await;
                if matches!(subscribed, Ok(Ok(()))) {
                    wait = Duration::from_secs(1);
                    let mut stream = ps.on_message();
                    while let Some(m) = stream.next().await {
                        let bytes = m.get_payload_bytes();
                        let cut = &bytes[..bytes.len().min(MAX_PAYLOAD)];
                        let payload = crate::node::reply::lossy(cut.to_vec());
                        let channel = m.get_channel_name();
                        let ev = SentinelEvent {
                            group,
                            sentinel: sentinel.clone(),
                            channel: crate::sanitize::visible(&channel[..channel.len().min(64)])
                                .into_owned(),
                            payload: crate::sanitize::visible(&payload).into_owned(),
                            at: SystemTime::now(),
                        };
                        if tx.send(super::SentinelFeed::Event(ev)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::NodeView;

    fn ev(channel: &str, payload: &str) -> SentinelEvent {
        SentinelEvent {
            group: 0,
            sentinel: Addr {
                host: "127.0.0.1".into(),
                port: 26379,
            },
            channel: channel.into(),
            payload: payload.into(),
            at: SystemTime::UNIX_EPOCH,
        }
    }

    fn group() -> GroupTopology {
        GroupTopology {
            nodes: vec![
                NodeView::new(None, "n1", "127.0.0.1:7001"),
                NodeView::new(None, "n2", "127.0.0.1:7002"),
            ],
            ..GroupTopology::default()
        }
    }

    #[test]
    fn events_in_plain_words_with_node_names() {
        let g = group();
        let (sev, node, m) = describe(
            &ev("+switch-master", "grp 127.0.0.1 7001 127.0.0.1 7002"),
            "grp",
            &g,
        )
        .expect("ours");
        assert_eq!((sev, node.as_deref()), (Severity::Warning, Some("n2")));
        assert!(m.ends_with("switched 'grp' from n1 to n2"), "{m}");
        let (sev, _, m) = describe(
            &ev("+odown", "master grp 127.0.0.1 7001 #quorum 2/2"),
            "grp",
            &g,
        )
        .expect("ours");
        assert_eq!(sev, Severity::Critical);
        assert!(
            m.contains("agree the master n1 is down (quorum 2/2)"),
            "{m}"
        );
        let (_, _, m) = describe(
            &ev("-failover-abort-no-good-slave", "master grp 127.0.0.1 7001"),
            "grp",
            &g,
        )
        .expect("ours");
        assert!(m.contains("no replica is fit to promote"), "{m}");
        let (_, node, m) = describe(
            &ev(
                "+sdown",
                "slave 127.0.0.1:7002 127.0.0.1 7002 @ grp 127.0.0.1 7001",
            ),
            "grp",
            &g,
        )
        .expect("ours");
        assert_eq!(node.as_deref(), Some("n2"));
        assert!(m.ends_with("sees replica n2 down"), "{m}");
        assert!(describe(&ev("+sdown", "master other 10.0.0.1 6379"), "grp", &g).is_none());
        assert!(describe(&ev("+switch-master", "x"), "grp", &g).is_none());
        assert!(describe(&ev("+sdown", ""), "grp", &g).is_none());
    }
}
