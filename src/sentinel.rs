//! Sentinel's view of a group: every sentinel of a group's `sentinel = { addrs, master_name }`
//! polled (`INFO`, `SENTINEL MASTER`, `REPLICAS`, `SENTINELS`, `CKQUORUM`) with bounded
//! timeouts, the replies parsed defensively (`sentinel/reply.rs`), the group's summary and its
//! anomalies in plain words (`sentinel/view.rs`), and its event channels as the event log's
//! source (`sentinel/events.rs`).
//!
//! Core: never imports a front-end, never changes anything on a sentinel (every command sent
//! here is a read). Actions through Sentinel belong to `ops`.

pub mod discover;
pub mod events;
pub mod poll;
pub mod reply;
pub mod view;

pub use poll::{poll_group, poll_one, SentinelPollers, SENTINEL_CLIENT_NAME};
pub use view::{annotate, GroupSentinel, SentinelRow};

use crate::config::Addr;
use crate::observe::NodeError;
use reply::{MasterEntry, PeerEntry, ReplicaEntry, SentinelInfo};

/// What one poll of one sentinel saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub info: SentinelInfo,
    /// `None`: this sentinel does not monitor the master name (`No such master`).
    pub master: Option<MasterEntry>,
    pub replicas: Vec<ReplicaEntry>,
    pub peers: Vec<PeerEntry>,
    /// `SENTINEL CKQUORUM`: `Ok` with Sentinel's words, or `Err` with its refusal.
    pub quorum: Option<Result<String, String>>,
}

/// One sentinel's answer (or why there was none), for group `group` (index in the config).
#[derive(Debug, Clone, PartialEq)]
pub struct SentinelReport {
    pub group: usize,
    pub addr: Addr,
    pub seen: Result<Seen, NodeError>,
    pub at: std::time::SystemTime,
}

/// What the sentinel tasks send: a poll's report, or a message from an event channel.
#[derive(Debug, Clone, PartialEq)]
pub enum SentinelFeed {
    Report(Box<SentinelReport>),
    Event(events::SentinelEvent),
}
