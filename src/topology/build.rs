//! Building the topology. (Placeholder: being written.)

use std::time::SystemTime;

use super::Topology;
use crate::config::Config;
use crate::history::History;
use crate::observe::FleetState;

/// Builds the topology from the latest observations.
#[must_use]
pub fn build(
    _config: &Config,
    _fleet: &FleetState,
    _history: &History,
    _now: SystemTime,
) -> Topology {
    Topology::default()
}
