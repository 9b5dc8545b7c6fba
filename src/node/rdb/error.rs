//! Why an RDB download or check failed, with a hint for the operator. Messages never carry a
//! password: they are built from node names, addresses and server replies only.

use std::path::PathBuf;
use std::time::Duration;

/// Why a download or a check failed. Messages carry no secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdbError {
    #[error("cannot connect to '{node}' ({addr}): {message}")]
    Connect {
        node: String,
        addr: String,
        message: String,
    },
    #[error("'{node}' ({addr}) gave no answer within {after:?} {during}")]
    Unresponsive {
        node: String,
        addr: String,
        during: String,
        after: Duration,
    },
    #[error("downloading from '{node}' ran out of its {budget:?} budget after {bytes} bytes")]
    Budget {
        node: String,
        budget: Duration,
        bytes: u64,
    },
    #[error("TLS with '{node}' failed: {message}")]
    Tls { node: String, message: String },
    #[error("'{node}' refused the credentials: {message}")]
    Auth { node: String, message: String },
    #[error(
        "user '{user}' may not run '{command}' on '{node}': an RDB download needs the ACL grant +replconf +sync"
    )]
    NoPerm {
        node: String,
        user: String,
        command: String,
    },
    #[error("'{node}' cannot serve SYNC: its link to its own primary is down (NOMASTERLINK)")]
    NoMasterLink { node: String },
    #[error("'{node}' refused SYNC: link to its primary down and replica-serve-stale-data is no (MASTERDOWN)")]
    MasterDown { node: String },
    #[error("'{node}' refused SYNC: '{message}'")]
    Refused { node: String, message: String },
    #[error("unexpected reply from '{node}' {during}: '{reply}'")]
    Protocol {
        node: String,
        during: String,
        reply: String,
    },
    #[error("the transfer from '{node}' was cut after {got} bytes{}", expected.map(|e| format!(" of {e}")).unwrap_or_default())]
    TransferCut {
        node: String,
        got: u64,
        expected: Option<u64>,
    },
    #[error(
        "the RDB from '{node}' {} {size} bytes, over the limit of {limit} ({why}); nothing was kept",
        if *announced { "announced" } else { "passed" }
    )]
    TooLarge {
        node: String,
        /// The announced length, or the bytes received when the stream was cut.
        size: u64,
        announced: bool,
        limit: u64,
        why: String,
    },
    #[error("file '{}': {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("'{}' is not an RDB file: it starts with '{found}'", path.display())]
    BadMagic { path: PathBuf, found: String },
    #[error("'{}' is truncated: {why}", path.display())]
    Truncated { path: PathBuf, why: String },
    #[error("'{}' is corrupt: stored CRC-64 {stored:016x}, computed {computed:016x}", path.display())]
    ChecksumMismatch {
        path: PathBuf,
        stored: u64,
        computed: u64,
    },
}

impl RdbError {
    /// What the operator can do about it.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Connect { .. } => "check the address and that the server is running".into(),
            Self::Unresponsive { .. } => {
                "the node may be frozen, swapping or black-holed; try another source".into()
            }
            Self::Budget { .. } => {
                "give the download a larger budget (console.download_timeout, or \
                 --download-timeout for one action), or download from a replica"
                    .into()
            }
            Self::Tls { .. } => "check tls.ca_file and the names in the server certificate".into(),
            Self::Auth { .. } => "check username and password for this node".into(),
            Self::NoPerm { user, .. } => format!("ACL SETUSER {user} +replconf +sync"),
            Self::NoMasterLink { .. } | Self::MasterDown { .. } => {
                "download from its primary or from a replica whose link is up".into()
            }
            Self::TooLarge { .. } => {
                "free space on the backups disk (console.backups_dir), or check that this \
                 address is really a Redis server: a real snapshot is smaller than its dataset"
                    .into()
            }
            Self::TransferCut { .. } => {
                "the server closed the connection; see its log and retry".into()
            }
            Self::Truncated { .. } | Self::ChecksumMismatch { .. } | Self::BadMagic { .. } => {
                "do not restore from this file; take a new snapshot".into()
            }
            Self::Refused { .. } | Self::Protocol { .. } | Self::File { .. } => return None,
        })
    }
}
