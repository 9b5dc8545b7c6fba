//! What an operator asks for, before any plan exists, the same whichever front-end asked: the
//! console (a key on the selected node), the CLI (a subcommand and its flags) or a drill.
//! Keyed by [`ActionKind`]; the session turns it into a plan (`ops::session::prepare`).
//!
//! Data only: no lookup, no I/O, no words for a front-end.

use std::path::PathBuf;
use std::time::Duration;

use super::plan::{ActionKind, Strategy};

/// Whether (and where) the RDB is downloaded before the change, for the actions that offer it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Download {
    /// No download asked for (a repoint or rejoin still downloads when its guard says so).
    #[default]
    Off,
    /// Into the configured backups directory (`console.backups_dir`).
    Backups,
    /// Into this directory.
    Into(PathBuf),
}

/// One action asked for, with everything the six actions take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub action: ActionKind,
    /// The one group the request is scoped to (its index in the config): the plan and its
    /// connections then see that group alone, as with the CLI's `--group`. `None`: the whole
    /// config, the node's name decides the group.
    pub group: Option<usize>,
    /// The node acted on: the snapshot's node, the switchover's target, the replica to promote
    /// (`None`: the best candidate), the node to repoint or rejoin.
    pub node: Option<String>,
    /// Where a repointed node will replicate from (a rejoin's source is the current primary).
    pub source: Option<String>,
    /// Switchover and failback.
    pub strategy: Strategy,
    /// Snapshot, switchover, failback: also download the RDB.
    pub download: Download,
    /// The longest one RDB download may take, over `console.download_timeout`.
    pub download_timeout: Option<Duration>,
    /// Rejoin only: drop the node's rejoin mark (repaired by hand, or retired); nothing is
    /// sent to any server.
    pub clear_mark: bool,
    /// Restore only: the backup to load (resolved and checked by `backup::restore::resolve`),
    /// and where the scratch server listens (`backup::restore::default_listen`).
    pub restore: Option<Box<RestoreFrom>>,
    /// Snapshot only: every primary of a cluster group at one cut, instead of one node
    /// (`ops::snapshot::cluster`).
    pub all: Option<crate::ops::snapshot::cluster::AllPrimaries>,
}

/// What a restore loads, and where the scratch server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreFrom {
    pub source: crate::backup::RestoreSource,
    pub listen: crate::config::Addr,
    /// The server binary the scratch server runs (`None`: chosen like `backup verify`).
    pub server_bin: Option<PathBuf>,
}

impl Request {
    /// A request for `action` on `node`, defaults elsewhere (whole config, manual strategy, no
    /// download).
    #[must_use]
    pub fn new(action: ActionKind, node: Option<String>) -> Self {
        Self {
            action,
            group: None,
            node,
            source: None,
            strategy: Strategy::Manual,
            download: Download::Off,
            download_timeout: None,
            clear_mark: false,
            restore: None,
            all: None,
        }
    }

    /// `SENTINEL RESET` on the sentinels of group `index`, one at a time.
    #[must_use]
    pub fn sentinel_reset(index: usize) -> Self {
        Self::new(ActionKind::SentinelReset, None).in_group(index)
    }

    /// The same request scoped to group `index`.
    #[must_use]
    pub fn in_group(mut self, index: usize) -> Self {
        self.group = Some(index);
        self
    }

    /// The same request with a source to replicate from.
    #[must_use]
    pub fn from_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// True when the strategy can be chosen (switchover, failback).
    #[must_use]
    pub fn has_strategy(&self) -> bool {
        matches!(self.action, ActionKind::Switchover | ActionKind::Failback)
    }

    /// True when an optional download can be asked for (snapshot, switchover, failback).
    #[must_use]
    pub fn has_download(&self) -> bool {
        // A cluster-wide snapshot always downloads: the transfers are its snapshot.
        self.all.is_none()
            && matches!(
                self.action,
                ActionKind::Snapshot | ActionKind::Switchover | ActionKind::Failback
            )
    }

    /// True when preparing it reads the rejoin marks (a rejoin), so a front-end loads them.
    #[must_use]
    pub fn uses_marks(&self) -> bool {
        self.action == ActionKind::Rejoin
    }
}
