//! Backups after they are taken: the catalog (`backup list`, `backup prune`) and the restore
//! test (`backup verify`), and what a restore loads (`restore`, its offline mode). Taking one is `node::rdb` (download, check, manifest); this module
//! reads manifests, never a server but the scratch one it starts itself. Core: no front-end
//! crate, no printing.

pub mod catalog;
pub mod cluster;
pub mod cluster_verify;
pub mod prune;
pub mod restore;
pub mod restore_test;

pub use catalog::{Catalog, Entry, Filter, Problem, Retention};
pub use restore::{ResolveError, RestoreSource};
pub use restore_test::{restore_test, start_scratch, Report, Scratch, ServerChoice, VerifyError};
