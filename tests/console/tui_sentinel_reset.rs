//! `:sentinel-reset` in the console on real servers and three real sentinels, along the
//! runtime's own path: refused read-only with nothing opened; then the plan dialog of the
//! shown group's reset, `y`, the run carried out by `tui::run::spawn` and its end fed back:
//! done, every sentinel knowing the replicas and its peers after, the run in the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ratatui::crossterm::event::KeyCode;

use redops::sandbox::{Sandbox, Spec};
use redops::tui::Effect;

use crate::common::console::{self, command, press, run_to_end};
use crate::common::screen;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_reset_from_the_console_resets_every_sentinel_in_turn() {
    let sb = Sandbox::start(&Spec {
        replicas: 2,
        sentinels: 3,
        ..Spec::default()
    })
    .await
    .expect("sandbox with sentinels");
    let mut app = console::app(sb.config());
    let topo = redops::cli::status::snapshot(&app.config).await;
    app.set_topology(topo);

    app.opts.read_only = true;
    assert!(command(&mut app, "sentinel-reset").is_empty());
    let said = app
        .flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert!(said.contains("sentinel-reset: read-only"), "{said}");
    let shown = screen::text(&screen::draw(&app));
    assert!(
        !shown.contains("SENTINEL RESET sandbox"),
        "no plan: {shown}"
    );
    app.opts.read_only = false;

    let fx = command(&mut app, "sentinel-reset");
    assert!(fx.is_empty(), "{fx:?}");
    let shown = screen::text(&screen::draw(&app));
    assert!(shown.contains("sentinel reset · group sandbox"), "{shown}");
    assert!(
        shown.contains("SENTINEL RESET sandbox on 3 sentinel(s)"),
        "{shown}"
    );
    assert!(shown.contains("none needed: no data moves"), "{shown}");
    let fx = press(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(fx.as_slice(), [Effect::RunAction(_)]),
        "{fx:?}\n{shown}"
    );
    run_to_end(&mut app, fx, Duration::from_secs(120)).await;
    let shown = screen::text(&screen::draw(&app));
    assert!(
        shown.contains("DONE: 3 sentinel(s) reset one at a time"),
        "{shown}"
    );

    let s = app.config.groups[0].sentinel.clone().unwrap();
    let timeouts = redops::node::Timeouts::from(&app.config.console);
    for r in redops::sentinel::poll::poll_group(0, &s, timeouts).await {
        let m = r.seen.unwrap().master.unwrap();
        assert_eq!((m.num_replicas, m.num_other_sentinels), (Some(2), Some(2)));
    }
    let audit = std::fs::read_to_string(&app.config.console.audit_log).unwrap();
    let finished: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["action"] == "sentinel-reset" && r["event"] == "RunFinished")
        .collect();
    assert_eq!(finished.len(), 1, "{finished:#?}");
    assert_eq!(finished[0]["outcome"], "done");
}
