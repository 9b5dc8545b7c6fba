//! The console's event loop: the only place that touches the terminal.
//!
//! `tokio::select!` over crossterm's `EventStream`, the pollers' observation channel, effect
//! results, a one-second tick and SIGTERM/SIGHUP/SIGINT. Each wake-up drains everything already
//! queued (yazi-style), feeds it to `App::update`, and the frame is drawn only when the model
//! changed and at most every [`FRAME`]. The terminal is restored on quit, on error, on panic
//! (ratatui's hook, installed after color-eyre's) and on signals; nothing here calls
//! `process::exit`.

use std::io::{self, stdout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::{FutureExt, StreamExt};
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event, EventStream};
use ratatui::crossterm::execute;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::history::loss_file;
use crate::observe::Observation;

use super::app::{App, Effect, Msg, Options};
use super::checks;
use super::run;
use super::theme::{self, Theme};
use super::view;
use super::ConsoleExit;

/// Shortest time between two frames (~30 fps).
pub const FRAME: Duration = Duration::from_millis(33);
/// Most queued items taken in one wake-up, so a flood cannot starve the keyboard.
const DRAIN_MAX: usize = 4096;
/// Observations are gathered this long before the model takes them in: pollers' cycles drift
/// apart, and one rebuild and one frame per arrival would cost a frame per node per second.
/// Keys are not delayed.
pub const GATHER: Duration = Duration::from_millis(200);

/// A drill's link to the console (`redops drill NAME`): the runner's events, and the count of
/// hints asked for that the runner reads at each poll.
#[derive(Debug)]
pub struct DrillFeed {
    pub events: mpsc::UnboundedReceiver<crate::drill::RunnerEvent>,
    pub hint_asks: Arc<AtomicUsize>,
}

/// Runs the console until the operator quits; says how it ended (printing is the caller's).
pub async fn run(config: Config, theme: Theme, opts: Options) -> ConsoleExit {
    run_with(config, theme, opts, None).await
}

/// [`run`], with a drill panel fed by `drill` when given.
pub async fn run_with(
    config: Config,
    theme: Theme,
    opts: Options,
    drill: Option<DrillFeed>,
) -> ConsoleExit {
    let (mut pollers, rx) = crate::poller::spawn(&config);
    let (sentinel_pollers, sentinel_rx) = crate::sentinel::SentinelPollers::spawn(&config);
    let mut app = App::new(config, theme, opts, SystemTime::now());
    // Before the first poll: a restart while no console ran is judged against this memory.
    if let Some(path) = app.opts.loss_file.clone() {
        match loss_file::load(&path) {
            Ok(state) => app.monitor.remember(state),
            Err(e) => app.flash_error(&e),
        }
    }
    let result = match Terminal::enter() {
        Ok(mut term) => {
            // Boxed: the loop's state is large, and would otherwise sit in every caller's future.
            let r = Box::pin(event_loop(&mut term, app, (rx, sentinel_rx), drill)).await;
            drop(term);
            r
        }
        Err(e) => Err(e),
    };
    pollers.stop();
    drop(sentinel_pollers);
    match result {
        Ok(()) => ConsoleExit::Quit,
        Err(e) => ConsoleExit::Failed(e),
    }
}

/// The terminal in raw mode on the alternate screen with mouse capture; restored on drop.
struct Terminal {
    /// Always `Some` until dropped.
    inner: Option<ratatui::DefaultTerminal>,
}

impl Terminal {
    fn enter() -> io::Result<Self> {
        // Installs the panic hook that restores the terminal (after color-eyre's).
        let inner = ratatui::try_init()?;
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = execute!(stdout(), DisableMouseCapture, Show);
            prev(info);
        }));
        if let Err(e) = execute!(stdout(), EnableMouseCapture) {
            ratatui::restore();
            return Err(e);
        }
        Ok(Self { inner: Some(inner) })
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // Never panic here: after a hang-up the terminal is gone and every write fails.
        // ratatui's own `Drop` prints (and so panics) when it cannot show the cursor, and that
        // panic would abort the process before the demo's servers are stopped: so the cursor
        // is shown here, and if the terminal is gone the value (only buffers) is forgotten.
        if let Some(mut t) = self.inner.take() {
            if t.show_cursor().is_ok() {
                drop(t);
            } else {
                std::mem::forget(t);
            }
        }
        let _ = execute!(stdout(), DisableMouseCapture, Show);
        let _ = ratatui::try_restore();
    }
}

async fn event_loop(
    term: &mut Terminal,
    mut app: App,
    (mut rx, mut sentinel_rx): (
        mpsc::Receiver<Observation>,
        mpsc::Receiver<crate::sentinel::SentinelFeed>,
    ),
    drill: Option<DrillFeed>,
) -> io::Result<()> {
    let Some(inner) = term.inner.as_mut() else {
        return Ok(());
    };
    let size = inner.size()?;
    app.update(Msg::Resize(size.width, size.height));
    let mut events = EventStream::new();
    let (fx_tx, mut fx_rx) = mpsc::unbounded_channel::<Msg>();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut last_draw: Option<Instant> = None;
    let mut gathered: Vec<Observation> = Vec::new();
    let mut flush_at: Option<Instant> = None;
    let mut input_open = true;
    let mut polls_open = true;
    let (mut drill_rx, hint_asks) = drill.map(|d| (d.events, d.hint_asks)).unzip();

    loop {
        if app.dirty && last_draw.is_none_or(|t| t.elapsed() >= FRAME) {
            inner.draw(|f| view::render(&app, f))?;
            app.dirty = false;
            last_draw = Some(Instant::now());
        }
        let next_frame = match (app.dirty, last_draw) {
            (true, Some(t)) => Some(t + FRAME),
            _ => None,
        };
        let mut msgs: Vec<Msg> = Vec::new();
        tokio::select! {
            ev = events.next(), if input_open => match ev {
                Some(Ok(ev)) => {
                    push_event(&mut msgs, &ev);
                    for _ in 0..DRAIN_MAX {
                        match events.next().now_or_never() {
                            Some(Some(Ok(ev))) => push_event(&mut msgs, &ev),
                            Some(Some(Err(e))) => return Err(e),
                            Some(None) => { input_open = false; break; }
                            None => break,
                        }
                    }
                }
                Some(Err(e)) => return Err(e),
                None => input_open = false,
            },
            obs = rx.recv(), if polls_open && gathered.len() < DRAIN_MAX => match obs {
                Some(o) => {
                    gathered.push(o);
                    while gathered.len() < DRAIN_MAX {
                        match rx.try_recv() {
                            Ok(o) => gathered.push(o),
                            Err(_) => break,
                        }
                    }
                    flush_at.get_or_insert_with(|| Instant::now() + GATHER);
                }
                None => polls_open = false,
            },
            () = sleep_until(flush_at), if flush_at.is_some() => {
                flush_at = None;
                msgs.push(Msg::Tick(SystemTime::now()));
                msgs.push(Msg::Observed(std::mem::take(&mut gathered)));
            },
            Some(m) = fx_rx.recv() => msgs.push(m),
            Some(r) = sentinel_rx.recv() => msgs.push(Msg::Sentinel(r)),
            Some(ev) = recv_drill(drill_rx.as_mut()), if drill_rx.is_some() => {
                msgs.push(Msg::Drill(ev));
            },
            _ = tick.tick() => msgs.push(Msg::Tick(SystemTime::now())),
            _ = sigterm.recv() => msgs.push(Msg::Quit),
            _ = sighup.recv() => msgs.push(Msg::Quit),
            _ = sigint.recv() => msgs.push(Msg::Quit),
            () = sleep_until(next_frame), if next_frame.is_some() => {},
        }
        for m in msgs {
            for fx in app.update(m) {
                match fx {
                    // The terminal is here: the clipboard sequence goes through it, between
                    // frames, never as a stray print.
                    Effect::Copy(text) => {
                        use std::io::Write as _;
                        let out = inner.backend_mut();
                        let _ = out
                            .write_all(osc52(&text).as_bytes())
                            .and_then(|()| out.flush());
                    }
                    Effect::DrillHint => {
                        if let Some(asks) = &hint_asks {
                            asks.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    fx => spawn_effect(fx, fx_tx.clone()),
                }
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}

/// The drill's next event; `None` (so the arm is skipped) once the runner is gone.
async fn recv_drill(
    rx: Option<&mut mpsc::UnboundedReceiver<crate::drill::RunnerEvent>>,
) -> Option<crate::drill::RunnerEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => None,
    }
}

async fn sleep_until(t: Option<Instant>) {
    if let Some(t) = t {
        tokio::time::sleep_until(t.into()).await;
    }
}

fn push_event(msgs: &mut Vec<Msg>, ev: &Event) {
    match *ev {
        Event::Key(k) if k.kind != ratatui::crossterm::event::KeyEventKind::Release => {
            msgs.push(Msg::Key(k));
        }
        Event::Mouse(m) => msgs.push(Msg::Mouse(m)),
        Event::Resize(w, h) => msgs.push(Msg::Resize(w, h)),
        _ => {}
    }
}

/// Carries out slow work off the UI task and answers with a message.
/// Promote's statement (Sentinel already failed over) into the audit log, off the UI task.
fn record_statement(fx: Effect, tx: mpsc::UnboundedSender<Msg>) {
    let Effect::RecordPromoteStatement {
        audit_log,
        group,
        statement,
    } = fx
    else {
        return;
    };
    tokio::task::spawn_blocking(move || {
        let r = crate::ops::promote::sentinel::record_in(&audit_log, &group, &statement)
            .map_err(|e| e.message);
        let _ = tx.send(Msg::Acknowledged(r));
    });
}

fn spawn_effect(fx: Effect, tx: mpsc::UnboundedSender<Msg>) {
    match fx {
        Effect::LoadTheme { name, no_color } => {
            tokio::task::spawn_blocking(move || {
                let _ = tx.send(Msg::ThemeLoaded(theme::load(&name, no_color)));
            });
        }
        Effect::Export {
            path,
            text,
            overwrite,
        } => {
            tokio::task::spawn_blocking(move || {
                let home = std::env::var_os("HOME");
                let _ = tx.send(write_export(&path, home, &text, overwrite));
            });
        }
        // Carried out by the event loop, which holds the terminal and the drill's link.
        Effect::Copy(_) | Effect::DrillHint => {}
        Effect::ReadRuns { audit_log, query } => {
            tokio::task::spawn_blocking(move || {
                let steps = query.run_id.is_some();
                let result = crate::audit::runs::read(&audit_log, &query)
                    .map_err(|e| format!("{e} (hint: {})", e.hint()));
                let _ = tx.send(Msg::RunsRead { steps, result });
            });
        }
        Effect::RunAction(job) => run::spawn(*job, tx),
        fx @ (Effect::ReadCatalog { .. }
        | Effect::Prune { .. }
        | Effect::VerifyBackup { .. }
        | Effect::VerifyClusterBackup { .. }
        | Effect::CheckData { .. }) => {
            checks::spawn(fx, tx);
        }
        Effect::SandboxFault { dir, fault, node } => {
            tokio::spawn(async move {
                let r = crate::sandbox::send(&dir, fault, &node)
                    .await
                    .map_err(|e| e.to_string());
                // The hint is for the CLI (it names --dir): the console shows the message.
                let _ = tx.send(Msg::SandboxFault(r));
            });
        }
        Effect::CheckInterrupted {
            audit_log,
            topology,
        } => {
            tokio::task::spawn_blocking(move || {
                let _ = tx.send(Msg::Interrupted(run::check_interrupted(
                    &audit_log, &topology,
                )));
            });
        }
        Effect::LoadMarks { audit_log } => {
            tokio::task::spawn_blocking(move || {
                let _ = tx.send(Msg::Marks(run::load_marks(&audit_log)));
            });
        }
        Effect::ClearMarks { audit_log, marks } => {
            tokio::task::spawn_blocking(move || {
                let r =
                    run::clear_marks(&audit_log, &marks).and_then(|()| run::load_marks(&audit_log));
                let _ = tx.send(Msg::Marks(r));
            });
        }
        Effect::RecordAcknowledgement {
            audit_log,
            group,
            nodes,
            what,
        } => {
            tokio::task::spawn_blocking(move || {
                let r =
                    crate::ops::session::record_acknowledgement(&audit_log, &group, &nodes, &what)
                        .map_err(|e| e.message);
                let _ = tx.send(Msg::Acknowledged(r));
            });
        }
        fx @ Effect::RecordPromoteStatement { .. } => record_statement(fx, tx),
        Effect::FindSnapshot {
            backups_dir,
            group,
            nodes,
            before_ms,
            key,
        } => {
            tokio::task::spawn_blocking(move || {
                let snapshot = loss_file::find_snapshot(&backups_dir, &group, &nodes, before_ms);
                let _ = tx.send(Msg::SnapshotFound { key, snapshot });
            });
        }
        fx @ (Effect::ListBackups { .. } | Effect::ResolveBackup { .. }) => {
            run::spawn_backup_pick(fx, tx);
        }
        Effect::SaveLossMemory { path, state } => {
            tokio::task::spawn_blocking(move || {
                let _ = tx.send(Msg::LossMemorySaved(loss_file::save(&path, &state)));
            });
        }
    }
}

/// Writes the exported event log to `path`, a leading `~` expanded against `home`. An existing
/// file is replaced only with `overwrite`; otherwise the answer is [`Msg::ExportExists`] (with
/// the expanded path) and the console asks. The check and the creation are one step
/// (`create_new`), so a file that appears in between is not replaced either.
#[must_use]
pub fn write_export(
    path: &std::path::Path,
    home: Option<std::ffi::OsString>,
    text: &str,
    overwrite: bool,
) -> Msg {
    use std::io::Write as _;
    let path = match path.to_str() {
        Some(p) => crate::config::expand_tilde_with(p, home),
        None => path.to_path_buf(),
    };
    let opened = if overwrite {
        std::fs::File::create(&path)
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
    };
    let written = match opened {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Msg::ExportExists(path),
        Err(e) => Err(e),
        Ok(mut f) => f.write_all(text.as_bytes()),
    };
    Msg::Exported(
        written
            .map(|()| path.clone())
            .map_err(|e| format!("cannot write '{}': {e}", path.display())),
    )
}

/// The OSC 52 sequence that puts `text` on the terminal's clipboard: `ESC ] 52 ; c ; BASE64
/// BEL`. The terminal, not this machine, holds the clipboard, so it works over SSH (and in
/// tmux with `set-clipboard on`).
#[must_use]
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", base64(text.as_bytes()))
}

/// Standard base64 with padding (RFC 4648); a few lines instead of a dependency.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_carries_the_address_in_base64() {
        assert_eq!(
            osc52("127.0.0.1:6379"),
            "\x1b]52;c;MTI3LjAuMC4xOjYzNzk=\x07"
        );
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn export_expands_the_tilde_and_asks_before_overwriting() {
        let home = tempfile::tempdir().unwrap();
        let h = Some(home.path().as_os_str().to_owned());
        let file = home.path().join("x.txt");
        let Msg::Exported(Ok(p)) = write_export("~/x.txt".as_ref(), h.clone(), "one", false) else {
            panic!("the first export writes");
        };
        assert_eq!(p, file);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "one");
        let Msg::ExportExists(p) = write_export("~/x.txt".as_ref(), h.clone(), "two", false) else {
            panic!("an existing file is not replaced without asking");
        };
        assert_eq!(p, file);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "one");
        assert!(matches!(
            write_export(&file, h, "two", true),
            Msg::Exported(Ok(_))
        ));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "two");
    }
}
