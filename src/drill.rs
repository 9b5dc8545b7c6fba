//! Guided drills: rehearse an incident on a sandbox of real servers, judged by the live
//! topology, and scored.
//!
//! ```text
//! spec       the drill file format (serde): sandbox, steps, faults, hints, limits
//! load       built-ins (embedded) and files: size and type limits, unknown keys refused
//! condition  typed conditions judged against the core's Topology
//! engine     pure: Drill::update(&Topology, now) -> DrillEvents; actions taken as inputs
//! report     time per step, time to detect, hints, guards tripped, writes lost, verdict
//! writer     records every acknowledged write; the final "lost N of M" check
//! faults     faults carried out on the sandbox (effects of the engine)
//! runner     the loop: sandbox, writer, monitor, audit log, engine, report (headless, or
//!            beside the console: Ready::start, then Ready::play)
//! ```
//!
//! Core: never imports a front-end. The trainee acts through the ordinary actions (the same
//! core session as any action); the runner learns of them from the audit log.

pub mod condition;
pub mod engine;
pub mod faults;
pub mod load;
pub mod report;
pub mod runner;
pub mod spec;
pub mod writer;

#[cfg(test)]
pub(crate) mod testing;

pub use condition::{Condition, WriteCheck};
pub use engine::{Activity, Drill, DrillEvent, Ending};
pub use load::{builtins, find, parse, DrillError};
pub use report::Report;
pub use runner::{run, Options, Ready, RunnerEvent};
pub use spec::{DrillSpec, Fault};
