//! Snapshot tests of the console's screens on ratatui's `TestBackend`, driven by scripted
//! observations fed through the real pipeline (`App::update(Msg::Observed)` -> `FleetState` ->
//! History -> `topology::build` -> `topology::changes`), at fixed times so every frame is
//! reproducible. The theme tests snapshot a style summary (runs of fg/bg/modifiers) too, and
//! hold every cell of every theme to the contrast rule (`theme::contrast`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::fixtures::loopback_node as node;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};

use crate::common::screen::{draw, text};
use crate::tui_backups;
use redops::config::{Config, Console, Group, LagThresholds};
use redops::info::{DbKeys, Info, InfoRole, ReplicaLine};
use redops::observe::{NodeError, NodeId, Observation};
use redops::tui::theme::{self, Theme};
use redops::tui::{view, App, Msg, Options};

const T0: u64 = 1_700_000_000;

fn at(sec: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + sec)
}

fn config() -> Config {
    Config {
        console: Console::default(),
        groups: vec![
            Group {
                name: "cache-main".into(),
                env: Some("production".into()),
                read_only: false,
                preferred_primary: Some("m1".into()),
                lag: LagThresholds {
                    warn_bytes: 4096,
                    crit_bytes: 65_536,
                    ..LagThresholds::default()
                },
                sentinel: None,
                cluster: false,
                nodes: vec![
                    node("m1", 7001),
                    node("r1", 7002),
                    node("r2", 7003),
                    node("r3", 7004),
                ],
            },
            Group {
                name: "sessions".into(),
                env: Some("staging".into()),
                read_only: false,
                preferred_primary: None,
                lag: LagThresholds::default(),
                sentinel: None,
                cluster: false,
                nodes: vec![node("s1", 7101), node("s2", 7102)],
            },
        ],
        source: None,
    }
}

const REPLID: &str = "8e1f2a9c55d0b7e34f6a1c2d3e4f5a6b7c8d9e0f";

fn base_info(port: u16, sec: u64) -> Info {
    let mut i = Info::default();
    i.server.version = Some("7.0.15".into());
    i.server.tcp_port = Some(port);
    i.server.process_id = Some(40_000 + u32::from(port));
    i.server.uptime_seconds = Some(3_600 + sec);
    i.memory.used_memory = Some(2_400_000 + u64::from(port) * 10);
    i.memory.maxmemory_policy = Some("noeviction".into());
    i.clients.connected = Some(3);
    i.keyspace = vec![DbKeys {
        db: 0,
        keys: 12_345,
        expires: 0,
        ..DbKeys::default()
    }];
    i.persistence.last_bgsave_ok = Some(true);
    i.persistence.last_save_time = i64::try_from(T0 + sec).ok().map(|t| t - 180);
    i.persistence.changes_since_last_save = Some(sec * 40);
    i.replication.replid = Some(REPLID.into());
    i.stats.sync_full = Some(1);
    i.stats.sync_partial_ok = Some(0);
    i.stats.sync_partial_err = Some(0);
    i
}

fn primary(port: u16, sec: u64, offset: u64, replicas: &[(u16, u64)]) -> Info {
    let mut i = base_info(port, sec);
    let r = &mut i.replication;
    r.role = Some(InfoRole::Primary);
    r.offset = Some(offset);
    r.connected_replicas = replicas.len() as u64;
    r.replicas = replicas
        .iter()
        .enumerate()
        .map(|(k, (p, off))| ReplicaLine {
            index: u32::try_from(k).unwrap(),
            ip: "127.0.0.1".into(),
            port: *p,
            state: "online".into(),
            offset: Some(*off),
            lag: Some(0),
            kind: None,
        })
        .collect();
    r.backlog_size = Some(1_048_576);
    r.backlog_histlen = Some(offset.min(1_048_576));
    i
}

fn replica(port: u16, sec: u64, master: u16, offset: u64) -> Info {
    let mut i = base_info(port, sec);
    let r = &mut i.replication;
    r.role = Some(InfoRole::Replica);
    r.master_host = Some("127.0.0.1".into());
    r.master_port = Some(master);
    r.link_up = Some(true);
    r.last_io_seconds_ago = Some(0);
    r.replica_offset = Some(offset);
    r.priority = Some(100);
    r.read_only = Some(true);
    i
}

fn ok(group: usize, node: usize, sec: u64, info: Info) -> Observation {
    Observation {
        id: NodeId { group, node },
        at: at(sec),
        rtt: Duration::from_micros(300 + 40 * node as u64),
        result: Ok(Arc::new(info)),
    }
}

fn err(group: usize, node: usize, sec: u64, e: NodeError) -> Observation {
    Observation {
        id: NodeId { group, node },
        at: at(sec),
        rtt: Duration::from_millis(1),
        result: Err(e),
    }
}

/// What goes wrong in a script, from which second on.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    R2Down(u64),
    R2Unresponsive(u64),
    /// r1 stops replicating and becomes a primary (split brain).
    R1Primary(u64),
    /// r1's polls fail between two seconds (a gap in its chart).
    R1Gap(u64, u64),
    /// r1's link goes down (a full sync): every poll answers, none gives a lag figure.
    R1Syncing(u64),
}

/// Thirty seconds of a healthy cycle every second; r1 falls behind then catches up; r3 is
/// chained under r1.
fn script(app: &mut App, fault: Fault) {
    for sec in 0..30u64 {
        let off = 10_000 + sec * 2_000;
        let r1_off = if (10..20).contains(&sec) {
            off - 6_000
        } else {
            off
        };
        let mut batch = vec![
            ok(
                0,
                0,
                sec,
                primary(7001, sec, off, &[(7002, r1_off), (7003, off)]),
            ),
            ok(0, 3, sec, replica(7004, sec, 7002, r1_off)),
            ok(1, 0, sec, primary(7101, sec, 500, &[(7102, 500)])),
            ok(1, 1, sec, replica(7102, sec, 7101, 500)),
        ];
        batch.push(match fault {
            Fault::R1Primary(from) if sec >= from => {
                let mut i = primary(7002, sec, r1_off, &[(7004, r1_off)]);
                i.replication.replid = Some("c0ffee0000000000000000000000000000000001".into());
                ok(0, 1, sec, i)
            }
            Fault::R1Syncing(from) if sec >= from => {
                let mut i = replica(7002, sec, 7001, r1_off);
                i.replication.link_up = Some(false);
                i.replication.sync_in_progress = true;
                ok(0, 1, sec, i)
            }
            Fault::R1Gap(a, b) if (a..b).contains(&sec) => {
                err(0, 1, sec, NodeError::Unresponsive(Duration::from_secs(1)))
            }
            _ => ok(0, 1, sec, replica(7002, sec, 7001, r1_off)),
        });
        batch.push(match fault {
            Fault::R2Down(from) if sec >= from => err(
                0,
                2,
                sec,
                NodeError::Refused("Connection refused (os error 111)".into()),
            ),
            Fault::R2Unresponsive(from) if sec >= from => {
                err(0, 2, sec, NodeError::Unresponsive(Duration::from_secs(1)))
            }
            _ => ok(0, 2, sec, replica(7003, sec, 7001, off)),
        });
        app.update(Msg::Observed(batch));
    }
}

fn app_with(theme: Theme, w: u16, h: u16, fault: Fault) -> App {
    let mut app = App::new(config(), theme, Options::default(), at(0));
    app.update(Msg::Resize(w, h));
    script(&mut app, fault);
    app.update(Msg::Tick(at(30)));
    app
}

fn dark() -> Theme {
    theme::resolve_builtin("dark").unwrap()
}

fn key(app: &mut App, c: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)));
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// Runs of identical style per row: `y x0-x1 fg bg modifiers`.
fn styles(buf: &Buffer) -> String {
    let mut out = String::new();
    let c = |c: Color| match c {
        Color::Reset => "-".to_string(),
        other => other.to_string(),
    };
    for y in 0..buf.area.height {
        let mut x0 = 0;
        for x in 1..=buf.area.width {
            let same = x < buf.area.width && {
                let (a, b) = (&buf[(x0, y)], &buf[(x, y)]);
                a.fg == b.fg && a.bg == b.bg && a.modifier == b.modifier
            };
            if !same {
                let cell = &buf[(x0, y)];
                let m = if cell.modifier.is_empty() {
                    String::new()
                } else {
                    format!(" {:?}", cell.modifier)
                };
                out.push_str(&format!(
                    "{y:>2} {x0:>3}-{:<3} {} {}{m}\n",
                    x - 1,
                    c(cell.fg),
                    c(cell.bg)
                ));
                x0 = x;
            }
        }
    }
    out
}

fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let t = text(buf);
    t.lines().enumerate().find_map(|(y, l)| {
        l.find(needle).map(|bx| {
            (
                u16::try_from(l[..bx].chars().count()).unwrap(),
                u16::try_from(y).unwrap(),
            )
        })
    })
}

#[test]
fn healthy_tree() {
    let app = app_with(dark(), 120, 35, Fault::None);
    let buf = draw(&app);
    let t = text(&buf);
    assert!(t.contains("● up"), "{t}");
    assert!(t.contains("PRODUCTION"));
    insta::assert_snapshot!("healthy_tree", t);
}

#[test]
fn healthy_tree_200x50() {
    let app = app_with(dark(), 200, 50, Fault::None);
    insta::assert_snapshot!("healthy_tree_200x50", text(&draw(&app)));
}

#[test]
fn node_down() {
    let app = app_with(dark(), 120, 35, Fault::R2Down(25));
    let buf = draw(&app);
    let t = text(&buf);
    assert!(t.contains("✖ down"), "{t}");
    // The down node's state cell is drawn in the theme's `down` colour.
    let (x, y) = find(&buf, "✖ down").unwrap();
    assert_eq!(buf[(x, y)].fg, app.theme.s(theme::Ui::Down).fg.unwrap());
    assert!(app.log.export_text().contains("node_down"));
    insta::assert_snapshot!("node_down", t);
}

#[test]
fn unresponsive_node() {
    let app = app_with(dark(), 120, 35, Fault::R2Unresponsive(27));
    let t = text(&draw(&app));
    assert!(t.contains("◌ unresponsive"), "{t}");
    insta::assert_snapshot!("unresponsive_node", t);
}

#[test]
fn split_brain_banner() {
    let app = app_with(dark(), 120, 35, Fault::R1Primary(26));
    let t = text(&draw(&app));
    assert!(t.contains("CRITICAL"), "{t}");
    insta::assert_snapshot!("split_brain_banner", t);
}

#[test]
fn lag_chart_with_a_gap() {
    let mut app = app_with(dark(), 120, 40, Fault::R1Gap(14, 18));
    key(&mut app, KeyCode::Down); // r1
    assert_eq!(app.selected.as_deref(), Some("r1"));
    let t = text(&draw(&app));
    assert!(t.contains("×4 missed"), "{t}");
    insta::assert_snapshot!("lag_chart_with_a_gap", t);
}

#[test]
fn help_overlay() {
    let mut app = app_with(dark(), 120, 45, Fault::None);
    key(&mut app, KeyCode::Char('?'));
    let t = text(&draw(&app));
    // The practice keys are listed in `redops demo` only (tui_practice.rs), the drill's in
    // `redops drill NAME` only (tui_drill.rs).
    for b in redops::tui::keymap::BINDINGS.iter().filter(|b| {
        !matches!(
            b.section,
            redops::tui::keymap::Section::Practice | redops::tui::keymap::Section::Drill
        )
    }) {
        assert!(t.contains(b.what), "help lacks '{}'", b.what);
    }
    insta::assert_snapshot!("help_overlay", t);
}

#[test]
fn filter_active() {
    let mut app = app_with(dark(), 120, 35, Fault::None);
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "r");
    let t = text(&draw(&app));
    insta::assert_snapshot!("filter_typing", t);
    typed(&mut app, "3");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.filter, "r3");
    let t = text(&draw(&app));
    assert!(t.contains("1/4 nodes"), "{t}");
    // r3's parent is filtered out: no guide line hangs from a row that is not there.
    assert!(t.contains("║  └─r3 "), "{t}");
    assert!(!t.contains("│ └─r3"), "{t}");
    insta::assert_snapshot!("filter_active", t);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.filter, "");
}

#[test]
fn screen_80x24() {
    let app = app_with(dark(), 80, 24, Fault::R2Down(25));
    let t = text(&draw(&app));
    insta::assert_snapshot!("screen_80x24", t);
    let mut app = app;
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    insta::assert_snapshot!("screen_80x24_events", text(&draw(&app)));
}

/// The sizes every layout snapshot is taken at: the smallest the console draws on, the
/// common one, and a wide screen.
const SIZES: [(u16, u16); 3] = [(80, 24), (120, 35), (200, 50)];

/// The tree and a replica's detail pane at each size: every cut value ends with `…` (the
/// replid is whole where it fits), and the field list never runs into the charts.
#[test]
fn tree_and_detail_at_three_sizes() {
    for (w, h) in SIZES {
        let mut app = app_with(dark(), w, h, Fault::None);
        key(&mut app, KeyCode::Down); // r1
        let t = text(&draw(&app));
        let replid = t
            .lines()
            .find(|l| l.contains("replid"))
            .unwrap_or_else(|| panic!("{w}x{h}: no replid line\n{t}"));
        let value = replid
            .split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("{replid}"));
        assert!(
            value == REPLID
                || (value.ends_with('…') && REPLID.starts_with(value.trim_end_matches('…'))),
            "{w}x{h}: the replid is cut without an ellipsis: {replid}"
        );
        // Two blank columns at least between the value and the chart's axis label.
        let after = &replid[replid.find(value).unwrap() + value.len()..];
        assert!(after.starts_with("  "), "{w}x{h}: '{replid}'");
        if w >= 200 {
            // The width is used: more columns, and no band left empty after VERSION.
            let head = t.lines().find(|l| l.contains("NAME")).unwrap();
            assert!(head.contains("OPS/S") && head.contains("UPTIME"), "{head}");
            let tail = head.chars().rev().skip(1).take_while(|c| *c == ' ').count();
            assert!(tail < 20, "{tail} blank columns after VERSION: {head}");
            assert!(
                replid.contains(REPLID),
                "{w}x{h}: room for the whole replid: {replid}"
            );
        }
        insta::assert_snapshot!(format!("tree_and_detail_{w}x{h}"), t);
    }
}

/// A replica in a full sync answers every poll, but its link is down so its lag has no
/// figure: that is not a missed poll (it said `×10 missed`).
#[test]
fn a_lag_without_a_figure_is_not_a_missed_poll() {
    let mut app = app_with(dark(), 120, 35, Fault::R1Syncing(20));
    key(&mut app, KeyCode::Down);
    assert_eq!(app.selected.as_deref(), Some("r1"));
    let t = text(&draw(&app));
    assert!(t.contains("lag bytes"), "{t}");
    let title = t.lines().find(|l| l.contains("lag bytes")).unwrap();
    assert!(!title.contains('×'), "r1 missed no poll:\n{t}");
    // A poll that did fail is still counted.
    let gap = app_with(dark(), 120, 40, Fault::R1Gap(14, 18));
    let mut gap = gap;
    key(&mut gap, KeyCode::Down);
    assert!(text(&draw(&gap)).contains("×4 missed"));
}

/// A banner message longer than the lines it gets ends with `…` where it is cut.
#[test]
fn a_cut_banner_says_so() {
    let app = app_with(dark(), 80, 24, Fault::R2Unresponsive(27));
    let t = text(&draw(&app));
    let banner: Vec<&str> = t
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('╔'))
        .collect();
    assert_eq!(banner.len(), 2, "{t}");
    assert!(banner[0].contains("WARNING"), "{t}");
    assert!(banner[1].ends_with('…'), "{t}");
}

/// One age format everywhere: BGSAVE ages, uptime, last io.
#[test]
fn ages_read_the_same_everywhere() {
    let app = app_with(dark(), 200, 50, Fault::None);
    let t = text(&draw(&app));
    assert!(t.contains("ok 3m01s"), "{t}");
    assert!(t.contains("1h00m"), "uptime:\n{t}");
    for old in ["ok 3m ", "60m", " 0s ago"] {
        assert!(!t.contains(old), "'{old}' in\n{t}");
    }
}

#[test]
fn too_small_says_so() {
    let app = app_with(dark(), 70, 20, Fault::None);
    let t = text(&draw(&app));
    assert!(t.contains("needs at least 80x24"), "{t}");
}

#[test]
fn every_theme_renders_the_same_screen() {
    let mut texts = Vec::new();
    for name in theme::builtin_names() {
        let app = app_with(
            theme::resolve_builtin(name).unwrap(),
            100,
            30,
            Fault::R2Down(25),
        );
        let buf = draw(&app);
        texts.push(text(&buf));
        insta::assert_snapshot!(
            format!("theme_{name}"),
            format!("{}\n--- styles ---\n{}", text(&buf), styles(&buf))
        );
    }
    assert!(
        texts.windows(2).all(|w| w[0] == w[1]),
        "themes change words"
    );
}

#[test]
fn no_color_keeps_words_and_symbols() {
    let mono = dark().monochrome();
    let app = app_with(mono, 100, 30, Fault::R2Down(25));
    let buf = draw(&app);
    for cell in buf.content() {
        assert!(matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset));
    }
    let t = text(&buf);
    assert!(t.contains("✖ down") && t.contains("● up"));
    let (x, y) = find(&buf, "PRODUCTION").unwrap();
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
    let colored = app_with(dark(), 100, 30, Fault::R2Down(25));
    assert_eq!(t, text(&draw(&colored)));
}

#[test]
fn command_line_completes_and_switches_group() {
    let mut app = app_with(dark(), 120, 35, Fault::None);
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "gr");
    key(&mut app, KeyCode::Tab);
    typed(&mut app, "s");
    key(&mut app, KeyCode::Tab);
    let t = text(&draw(&app));
    assert!(t.contains(":group sessions"), "{t}");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.group, 1);
    let t = text(&draw(&app));
    assert!(t.contains("sessions 2 nodes"), "{t}");
    // `g` cycles back.
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.group, 0);
}

#[test]
fn export_and_theme_are_effects() {
    let mut app = app_with(dark(), 120, 35, Fault::R2Down(25));
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "export /tmp/x.log");
    let fx = app.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    match &fx[..] {
        [redops::tui::Effect::Export {
            path,
            text,
            overwrite: false,
        }] => {
            assert_eq!(path.to_str(), Some("/tmp/x.log"));
            assert!(
                text.contains("critical  cache-main  node_down  r2 is down"),
                "{text}"
            );
        }
        other => panic!("expected an export, got {other:?}"),
    }
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "theme nope");
    let fx = app.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    assert_eq!(fx.len(), 1);
    app.update(Msg::ThemeLoaded(theme::load("nope", false)));
    assert!(
        app.flash.as_ref().is_some_and(|f| f.error),
        "an unknown theme is an error"
    );
}

#[test]
fn freeze_holds_the_view_while_polls_go_on() {
    let mut app = app_with(dark(), 120, 35, Fault::None);
    key(&mut app, KeyCode::Char('f'));
    let before = text(&draw(&app));
    assert!(before.contains("FROZEN"));
    // r2 goes down while frozen: live state knows, the screen does not.
    app.update(Msg::Observed(vec![err(
        0,
        2,
        31,
        NodeError::Refused("refused".into()),
    )]));
    let r2 = |a: &App| {
        a.topology.groups[0]
            .nodes
            .iter()
            .find(|n| n.name == "r2")
            .map(|n| n.state)
    };
    assert_eq!(r2(&app), Some(redops::observe::NodeState::Down));
    let frozen = text(&draw(&app));
    assert!(!frozen.contains("✖ down"), "{frozen}");
    assert!(frozen.contains("+1 since frozen") || frozen.contains("+2 since frozen"));
    key(&mut app, KeyCode::Char('f'));
    assert!(text(&draw(&app)).contains("✖ down"));
}

#[test]
fn action_keys_open_a_plan_or_say_why() {
    let mut app = app_with(dark(), 120, 35, Fault::None);
    // m1 (the primary) is selected: a switchover needs the replica to promote.
    key(&mut app, KeyCode::Char('S'));
    let flash = app.flash.clone().unwrap();
    assert!(
        flash.error && flash.text.contains("select the replica"),
        "{}",
        flash.text
    );
    assert!(app.modals.is_empty());
    key(&mut app, KeyCode::Down); // r1
    key(&mut app, KeyCode::Char('S'));
    let t = text(&draw(&app));
    assert!(t.contains("switchover to r1 · group cache-main"), "{t}");
    assert!(t.contains("[ Cancel ]"), "{t}");
    key(&mut app, KeyCode::Esc);
    assert!(app.modals.is_empty() && app.run.is_none());
}

#[test]
fn mouse_click_selects_a_row() {
    use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut app = app_with(dark(), 120, 35, Fault::None);
    let buf = draw(&app);
    let (_, y) = find(&buf, "r3").unwrap();
    app.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 5,
        row: y,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(app.selected.as_deref(), Some("r3"));
}

#[test]
fn a_partial_first_cycle_is_not_logged_as_changes() {
    let mut app = App::new(config(), dark(), Options::default(), at(0));
    app.update(Msg::Resize(120, 35));
    // Only a replica has answered: no primary yet, but that is not news.
    app.update(Msg::Observed(vec![ok(
        0,
        1,
        0,
        replica(7002, 0, 7001, 10_000),
    )]));
    assert!(
        app.banner().is_empty(),
        "no banner before every node was polled"
    );
    let t = text(&draw(&app));
    assert!(t.contains("first poll: 1/6 nodes so far"), "{t}");
    script(&mut app, Fault::None);
    let log = app.log.export_text();
    assert!(
        !log.contains("no primary") && !log.contains("no reachable"),
        "{log}"
    );
}

/// The screens the contrast rule is checked on: every surface the console draws (header with
/// the current group tab, production and staging labels, FROZEN and READ-ONLY; the banner; the
/// tree with the primary selected as at start-up, a replica selected, a down node; the detail
/// fields and charts; the events; the status line, a prompt with its candidates; the help, the
/// plan dialog and its buttons).
fn contrast_screens(theme: &Theme) -> Vec<(&'static str, App)> {
    let startup = app_with(theme.clone(), 120, 35, Fault::R2Down(25));
    let mut down_selected = app_with(theme.clone(), 120, 35, Fault::R2Down(25));
    for _ in 0..3 {
        key(&mut down_selected, KeyCode::Down); // m1, r1, r3 (chained under r1), r2: down
    }
    let mut split = app_with(theme.clone(), 120, 40, Fault::R1Primary(26));
    key(&mut split, KeyCode::Down); // r1, the second primary
    let mut gap = app_with(theme.clone(), 120, 40, Fault::R1Gap(14, 18));
    key(&mut gap, KeyCode::Down);
    let mut help = app_with(theme.clone(), 120, 45, Fault::None);
    key(&mut help, KeyCode::Char('?'));
    let mut plan = app_with(theme.clone(), 120, 40, Fault::None);
    key(&mut plan, KeyCode::Down);
    key(&mut plan, KeyCode::Char('S'));
    let mut proceed = app_with(theme.clone(), 120, 40, Fault::None);
    key(&mut proceed, KeyCode::Down);
    key(&mut proceed, KeyCode::Char('S'));
    key(&mut proceed, KeyCode::Right); // Proceed focused
    let mut typed_name = app_with(theme.clone(), 120, 40, Fault::None);
    key(&mut typed_name, KeyCode::Down);
    key(&mut typed_name, KeyCode::Char('S'));
    key(&mut typed_name, KeyCode::Right);
    key(&mut typed_name, KeyCode::Enter);
    typed(&mut typed_name, "r");
    let mut picker = app_with(theme.clone(), 120, 40, Fault::None);
    key(&mut picker, KeyCode::Down);
    key(&mut picker, KeyCode::Down); // r3, chained under r1
    key(&mut picker, KeyCode::Char('r'));
    let mut prompt = app_with(theme.clone(), 120, 35, Fault::R2Down(25));
    key(&mut prompt, KeyCode::Char(':'));
    typed(&mut prompt, "theme ");
    key(&mut prompt, KeyCode::Tab);
    let mut marked = App::new(
        config(),
        theme.clone(),
        Options {
            read_only: true,
            label: Some("demo".into()),
            ..Options::default()
        },
        at(0),
    );
    marked.update(Msg::Resize(100, 30));
    script(&mut marked, Fault::R2Down(25));
    marked.update(Msg::Tick(at(30)));
    key(&mut marked, KeyCode::Char('f'));
    let mut greyed = App::new(
        config(),
        theme.clone(),
        Options {
            read_only: true,
            ..Options::default()
        },
        at(0),
    );
    greyed.update(Msg::Resize(120, 45));
    script(&mut greyed, Fault::None);
    greyed.update(Msg::Tick(at(30)));
    key(&mut greyed, KeyCode::Char('?'));
    let mut wrong_name = app_with(theme.clone(), 120, 40, Fault::None);
    key(&mut wrong_name, KeyCode::Down);
    key(&mut wrong_name, KeyCode::Char('S'));
    key(&mut wrong_name, KeyCode::Right);
    key(&mut wrong_name, KeyCode::Enter);
    typed(&mut wrong_name, "x");
    key(&mut wrong_name, KeyCode::Enter); // "type r1 to confirm: you typed x"
    let mut unknown = app_with(theme.clone(), 120, 35, Fault::None);
    key(&mut unknown, KeyCode::Char('Z')); // the flash
    let mut zoomed = app_with(theme.clone(), 120, 35, Fault::R2Down(25));
    key(&mut zoomed, KeyCode::Enter); // the detail, full screen
    let mut screens = vec![
        ("start-up", startup),
        ("wrong name typed", wrong_name),
        ("unknown key", unknown),
        ("detail full screen", zoomed),
        ("down node selected", down_selected),
        ("split brain", split),
        ("chart with a gap", gap),
        ("help", help),
        ("plan dialog", plan),
        ("plan dialog, proceed focused", proceed),
        ("typed confirmation", typed_name),
        ("repoint picker", picker),
        ("prompt", prompt),
        ("read-only and frozen", marked),
        ("read-only help", greyed),
    ];
    screens.extend(panes(theme));
    screens
}

/// The panes drawn over the console: the drill panel (running, its report), the history pane,
/// a snapshot's progress bar, the backups pane (with a restore test's result, a manifest) and
/// the check's pane asking for a write pause.
fn panes(theme: &Theme) -> Vec<(&'static str, App)> {
    let themed = |mut app: App| {
        app.theme = theme.clone();
        app
    };
    let mut backups = app_with(theme.clone(), 120, 35, Fault::None);
    tui_backups::open_backups(&mut backups);
    key(&mut backups, KeyCode::Down);
    backups.update(Msg::BackupVerified(tui_backups::passed("5e6f7a8b")));
    let mut manifest = app_with(theme.clone(), 120, 35, Fault::None);
    tui_backups::open_backups(&mut manifest);
    key(&mut manifest, KeyCode::Down);
    key(&mut manifest, KeyCode::Enter); // r1's, with its AOF note
    let mut check = app_with(theme.clone(), 120, 35, Fault::None);
    tui_backups::checked(&mut check);
    vec![
        ("drill running", themed(crate::tui_drill::running(120, 35))),
        ("drill report", themed(crate::tui_drill::finished(120, 35))),
        (
            "history pane",
            themed(crate::tui_history::history_pane(120, 35)),
        ),
        (
            "snapshot progress bar",
            themed(crate::tui_actions::scripted_download(120, 40).0),
        ),
        ("backups", backups),
        ("backup manifest", manifest),
        ("check-data asking for a pause", check),
    ]
}

/// A cell's contrast and the ratio it needs, or `None` for an empty cell.
fn cell_contrast(theme: &Theme, cell: &ratatui::buffer::Cell) -> Option<(f64, f64)> {
    use theme::contrast;
    let sym = cell.symbol();
    if sym.trim().is_empty() {
        return None;
    }
    let (fg, bg) = contrast::shown(
        cell.fg,
        cell.bg,
        cell.modifier,
        theme.s(theme::Ui::Background),
    )
    .expect("built-in themes give the background role both colours");
    let need = if contrast::is_graphic(sym) {
        contrast::GRAPHIC
    } else {
        contrast::TEXT
    };
    Some((contrast::ratio(fg, bg), need))
}

/// The lowest contrast over the selected row's cells.
fn selected_row_min(app: &App, buf: &Buffer) -> f64 {
    let a = view::layout(app, buf.area);
    let row = app.selected_row(&app.visible()).unwrap() - app.tree_offset;
    let y = a.tree_first_row + u16::try_from(row).unwrap();
    (a.tree.x + 1..a.tree.right() - 1)
        .filter_map(|x| cell_contrast(&app.theme, &buf[(x, y)]))
        .map(|(r, _)| r)
        .fold(f64::INFINITY, f64::min)
}

/// The contrast rule every built-in theme keeps (README, "Themes"): every cell with a visible
/// symbol reads at WCAG AA, 4.5:1 against what it sits on; box drawing, block elements
/// (sparklines) and braille (chart dots) are graphics and need 3:1. Colours are resolved as
/// `theme::contrast::shown` says (unset colours take the background role's, reversed swaps,
/// dim is halfway). A new theme, or a new view, that draws an unreadable cell fails here.
#[test]
fn every_theme_keeps_every_cell_readable() {
    // One line per theme and colour pair that fails, with where it was first seen.
    let mut failures = std::collections::BTreeMap::<String, String>::default();
    for name in theme::builtin_names() {
        let theme = theme::resolve_builtin(name).unwrap();
        for (screen, app) in contrast_screens(&theme) {
            let buf = draw(&app);
            // The row the issue was about, named on its own (the loop below covers it too):
            // before the fix it was 1.0-1.2:1 in every theme.
            // (The full-screen detail draws no tree: every cell is still checked below.)
            let selected = if screen == "detail full screen" {
                f64::INFINITY
            } else {
                selected_row_min(&app, &buf)
            };
            assert!(
                selected >= theme::contrast::TEXT,
                "{name} / {screen}: the selected row is {selected:.2}:1"
            );
            for y in 0..buf.area.height {
                for x in 0..buf.area.width {
                    let cell = &buf[(x, y)];
                    let Some((got, need)) = cell_contrast(&theme, cell) else {
                        continue;
                    };
                    if got < need {
                        let pair = format!(
                            "{name}: {} on {} {:?} is {got:.2}:1, needs {need}",
                            cell.fg, cell.bg, cell.modifier
                        );
                        failures.entry(pair).or_insert_with(|| {
                            let line: String =
                                (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
                            format!("{screen} ({x},{y}) in '{}'", line.trim())
                        });
                    }
                }
            }
        }
    }
    let report: Vec<String> = failures
        .iter()
        .map(|(pair, seen)| format!("{pair}\n    first at {seen}"))
        .collect();
    assert!(
        failures.is_empty(),
        "{} colour pairs below the contrast rule:\n{}",
        failures.len(),
        report.join("\n")
    );
}

#[test]
fn the_contrast_screens_show_what_they_are_named_for() {
    let screens = contrast_screens(&dark());
    let shown = |name: &str| {
        let (_, app) = screens.iter().find(|(n, _)| *n == name).unwrap();
        text(&draw(app))
    };
    let (_, down) = screens
        .iter()
        .find(|(n, _)| *n == "down node selected")
        .unwrap();
    assert_eq!(down.selected.as_deref(), Some("r2"));
    assert!(text(&draw(down)).contains("✖ down"));
    let t = shown("plan dialog, proceed focused");
    assert!(t.contains("[ Continue ]"), "{t}");
    let t = shown("typed confirmation");
    assert!(t.contains("r█"), "{t}");
    let t = shown("repoint picker");
    assert!(t.contains("repoint r3: replicate from which node?"), "{t}");
    assert!(shown("read-only and frozen").contains("READ-ONLY"));
    assert!(shown("prompt").contains(":theme "));
    assert!(shown("backups").contains("restore test of 5e6f7a8b: passed"));
    assert!(shown("backup manifest").contains("appendonly yes"));
    assert!(shown("check-data asking for a pause").contains("y/N"));
}

/// The backups pane (the catalog with a failed and a passed restore test, a skipped file, the
/// last restore test's result), a manifest in full, and the check's verdicts with its y/N for
/// a write pause, at the three sizes.
#[test]
fn backups_and_check_data_at_three_sizes() {
    for (w, h) in [(80, 24), (120, 35), (200, 50)] {
        let mut app = app_with(dark(), w, h, Fault::None);
        tui_backups::open_backups(&mut app);
        key(&mut app, KeyCode::Down);
        app.update(Msg::BackupVerified(tui_backups::passed("5e6f7a8b")));
        insta::assert_snapshot!(format!("backups_{w}x{h}"), text(&draw(&app)));
        key(&mut app, KeyCode::Enter);
        insta::assert_snapshot!(format!("backup_manifest_{w}x{h}"), text(&draw(&app)));
        let mut app = app_with(dark(), w, h, Fault::None);
        tui_backups::checked(&mut app);
        insta::assert_snapshot!(format!("check_data_{w}x{h}"), text(&draw(&app)));
    }
}
