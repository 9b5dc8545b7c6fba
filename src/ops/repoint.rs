//! `repoint NODE --to SOURCE` and `rejoin OLD_PRIMARY` (repoint to the current primary), behind
//! the wipe guard: what the node holds and what replaces it, partial or full resync, refusals
//! with reasons, and the node's snapshot downloaded before its data can be replaced.

pub mod guard;
pub mod lineage;

pub use guard::{assess, DownloadNeed, Finding, Holdings, Verdict, WipeGuard};
pub use lineage::{compare, predict, short, Comparison, History, Lineage, Resync};
