//! The console on a Sentinel group of real servers and real sentinels: the Sentinel strip on
//! the tree's bottom border says what each sentinel names, and a sentinel killed by PID shows
//! as down, in the strip and in the banner.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::SystemTime;

use crate::common::screen::{draw, text};
use redops::sandbox::{Sandbox, Spec};
use redops::sentinel::SentinelFeed;
use redops::tui::{theme, App, Msg, Options};

async fn poll(app: &mut App) {
    let config = app.config.clone();
    let (obs, reports) = tokio::join!(
        redops::poller::poll_once(&config),
        redops::sentinel::poll::poll_config(&config)
    );
    for r in reports {
        app.update(Msg::Sentinel(SentinelFeed::Report(Box::new(r))));
    }
    app.update(Msg::Observed(obs));
}

#[tokio::test]
async fn the_strip_names_each_sentinels_master_and_a_dead_one() {
    let mut sb = Sandbox::start(&Spec {
        replicas: 2,
        sentinels: 3,
        ..Spec::default()
    })
    .await
    .expect("sandbox");
    let theme = theme::resolve_builtin("dark").unwrap();
    let mut app = App::new(sb.config(), theme, Options::default(), SystemTime::now());
    app.update(Msg::Resize(120, 35));
    poll(&mut app).await;
    let screen = text(&draw(&app));
    assert!(
        screen.contains("Sentinel 'sandbox' s1 ✓ n1 · s2 ✓ n1 · s3 ✓ n1 · quorum 2 ✓ · epoch 0"),
        "{screen}"
    );
    sb.kill("s3").unwrap();
    poll(&mut app).await;
    let screen = text(&draw(&app));
    assert!(screen.contains("s3 ✗ down"), "{screen}");
    assert!(
        screen.contains("does not answer"),
        "the banner says so: {screen}"
    );
}
