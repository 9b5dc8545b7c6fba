//! The cluster backups (`snapshot --all`) in the backups pane: one row each (kind cluster, its
//! shards, its keys, the spread of its cut, its restore test), and its manifest in full.

use std::time::{Duration, SystemTime};

use ratatui::text::Line;

use crate::backup::cluster::{ClusterEntry, ClusterManifest};
use crate::topology::data_loss::thousands;

use super::super::app::App;
use super::super::fmt;
use super::super::theme::Ui;
use super::backups::safe;

/// A cluster backup's cells, in the order of the pane's columns (`ID NODE AGE SIZE KEYS
/// RESTORE-TEST CRC TAKEN GROUP`): the node column says `cluster` and its shards, the CRC
/// column the spread of its cut.
#[must_use]
pub fn row(e: &ClusterEntry, now: SystemTime) -> [String; 9] {
    let m = &e.manifest;
    let taken = SystemTime::UNIX_EPOCH + Duration::from_millis(m.taken_at_unix_ms);
    let crc = if m.shards.iter().all(|s| s.crc_ok) {
        "verified"
    } else {
        "NOT verified"
    };
    [
        e.id.clone(),
        format!("cluster ×{}", m.shards.len()),
        fmt::age(now, taken),
        fmt::bytes(m.shards.iter().map(|s| s.bytes).sum()),
        keys_text(m),
        restore_text(m),
        format!("{crc}, spread {} ms", m.spread_ms),
        fmt::date_clock(taken),
        safe(&m.group),
    ]
}

/// `12,345 in 3 shards`, or `?` when a shard's file did not say.
#[must_use]
pub fn keys_text(m: &ClusterManifest) -> String {
    let shards = crate::words::count(m.shards.len(), "shard");
    match m.total_keys {
        Some(k) => format!("{} in {shards}", thousands(k)),
        None => format!("? in {shards}"),
    }
}

/// `restore-tested 14:05, 300 read`, `restore test FAILED 14:05`, or `never`.
#[must_use]
pub fn restore_text(m: &ClusterManifest) -> String {
    super::backups::tested_text(m.restore_test.as_ref().map(|t| {
        (
            t.at_unix_ms,
            t.passed,
            format!("{} read", thousands(t.sampled)),
        )
    }))
}

/// The style of the restore-test cell.
#[must_use]
pub fn restore_role(m: &ClusterManifest) -> Ui {
    super::backups::tested_role(m.restore_test.as_ref().map(|t| t.passed))
}

/// The cluster manifest in full: where it lies, its shards in words, then the JSON as stored.
#[must_use]
pub fn manifest_lines(app: &App, e: &ClusterEntry, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let m = &e.manifest;
    let mut lines = Vec::new();
    super::push_wrapped(
        &mut lines,
        width,
        "manifest  ",
        &safe(&e.path.display().to_string()),
        t.s(Ui::Muted),
    );
    let pause = m.paused_ms.map_or_else(
        || "writes not paused".to_string(),
        |p| format!("writes paused {p} ms"),
    );
    super::push_wrapped(
        &mut lines,
        width,
        "cut       ",
        &format!(
            "{} · spread {} ms · {pause} · {} of 16384 slots",
            crate::words::count(m.shards.len(), "shard"),
            m.spread_ms,
            m.slots_covered()
        ),
        t.s(Ui::Text),
    );
    lines.push(Line::raw(""));
    super::backups::json_lines(app, m, width, &mut lines);
    lines
}
