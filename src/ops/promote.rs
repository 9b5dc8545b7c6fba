//! Unplanned promotion, when the primary is down: pick the replica (Sentinel's eligibility
//! rules, a reason for every excluded one), say what the offsets prove about lost writes,
//! snapshot it, `REPLICAOF NO ONE`, repoint its siblings, and mark the old primary so that it
//! is flagged for rejoin when it comes back.

pub mod candidates;
pub mod marks;

pub use candidates::{assess, describe_loss, Candidate, Candidates, Loss, OldPrimary, Reason};
pub use marks::RejoinMark;
