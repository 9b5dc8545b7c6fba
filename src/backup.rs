//! Backups after they are taken: the catalog (`backup list`, `backup prune`) and the restore
//! test (`backup verify`). Taking one is `node::rdb` (download, check, manifest); this module
//! reads manifests, never a server but the scratch one it starts itself. Core: no front-end
//! crate, no printing.

pub mod catalog;
pub mod restore_test;

pub use catalog::{Catalog, Entry, Filter, Problem, Retention};
pub use restore_test::{restore_test, Report, ServerChoice, VerifyError};
