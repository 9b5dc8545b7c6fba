//! `--strategy` on a group Sentinel watches: its switchover and failback go through Sentinel,
//! so a strategy that changes roles by hand (`manual`, `native`) is a usage error, never
//! silently ignored; `sentinel` on a group without Sentinel is one too (said by the core).

use super::args::StrategyArg;
use crate::cli::{output, EXIT_USAGE};
use crate::config::Config;

/// Refuses `given` when the group of `node` (`None`: the only group, a failback) is watched
/// by Sentinel and `given` is not `sentinel`.
///
/// # Errors
/// The exit code, once the problem is printed.
pub fn check(given: Option<StrategyArg>, node: Option<&str>, config: &Config) -> Result<(), u8> {
    let Some(given @ (StrategyArg::Manual | StrategyArg::Native)) = given else {
        return Ok(());
    };
    let group = match node {
        Some(q) => config
            .groups
            .iter()
            .find(|g| g.nodes.iter().any(|n| crate::ops::matches_node(n, q))),
        None => match config.groups.as_slice() {
            [g] => Some(g),
            _ => None,
        },
    };
    let Some(g) = group.filter(|g| g.sentinel.is_some()) else {
        return Ok(());
    };
    let word = match given {
        StrategyArg::Native => "native",
        _ => "manual",
    };
    output::error(
        &format!(
            "--strategy {word}: group '{}' is watched by Sentinel, which would undo or fight a \
             role change made behind its back",
            g.name
        ),
        Some("leave --strategy out (or give --strategy sentinel): the switchover goes through Sentinel"),
    );
    Err(EXIT_USAGE)
}
