//! `groups[].sentinel` of `status --json`: Sentinel's view of a group (schema in the README).

use serde_json::{json, Value};

use crate::sentinel::{GroupSentinel, SentinelRow};

fn row(r: &SentinelRow) -> Value {
    let (ckquorum_ok, ckquorum) = match &r.ckquorum {
        None => (None, None),
        Some(Ok(w)) => (Some(true), Some(w.clone())),
        Some(Err(w)) => (Some(false), Some(w.clone())),
    };
    json!({
        "addr": r.addr,
        "up": r.is_up(),
        "error": r.error,
        "monitors_master": r.is_up().then_some(!r.unknown_master),
        "master": r.master,
        "master_node": r.master_node,
        "flags": r.flags,
        "quorum": r.quorum,
        "ckquorum_ok": ckquorum_ok,
        "ckquorum": ckquorum,
        "failover_state": r.failover_state,
        "config_epoch": r.epoch,
        "tilt": r.tilt,
        "other_sentinels": r.other_sentinels,
    })
}

/// The object for one Sentinel group.
#[must_use]
pub fn to_json(s: &GroupSentinel) -> Value {
    json!({
        "master_name": s.master_name,
        "master": s.master,
        "master_node": s.master_node,
        "agreeing": s.agreeing,
        "quorum": s.quorum(),
        "failover_in_progress": s.failover_in_progress(),
        "sentinels": s.rows.iter().map(row).collect::<Vec<_>>(),
    })
}

/// One line for the text output: `sentinel 'name': s1 n1, s2 n1, s3 down; quorum 2 ok`.
#[must_use]
pub fn text(s: &GroupSentinel) -> String {
    let rows: Vec<String> = s
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let what = if r.pending {
                "not polled".to_string()
            } else if r.error.is_some() {
                "down".to_string()
            } else if r.unknown_master {
                "no such master".to_string()
            } else {
                r.master_node
                    .clone()
                    .or_else(|| r.master.clone())
                    .unwrap_or_else(|| "?".into())
            };
            format!("s{} {what}", i + 1)
        })
        .collect();
    let ck = match s.quorum_reachable() {
        None => "not checked",
        Some(true) => "ok",
        Some(false) => "NOT reachable",
    };
    let mut out = format!(
        "sentinel '{}': {}; quorum {} {ck}",
        crate::sanitize::visible(&s.master_name),
        rows.join(", "),
        s.quorum()
    );
    if let Some(e) = s.rows.iter().filter_map(|r| r.epoch).max() {
        out.push_str(&format!("; epoch {e}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    /// `--sentinel` (global, a target) and `--sentinels N` (sandbox, demo) are different
    /// arguments: clap's own consistency check over the whole command tree.
    #[test]
    fn every_subcommand_parses_with_the_sentinel_flags() {
        crate::cli::Cli::command().debug_assert();
        let parsed = crate::cli::Cli::try_parse_from(["redops", "demo", "--sentinels", "3"]);
        assert!(parsed.is_ok(), "{parsed:?}");
        let parsed = crate::cli::Cli::try_parse_from([
            "redops",
            "status",
            "--sentinel",
            "127.0.0.1:26379",
            "--master-name",
            "m",
        ]);
        assert!(parsed.is_ok(), "{parsed:?}");
    }
}
