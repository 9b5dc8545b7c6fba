//! Printing for the CLI: errors with hints on stderr, colours only on a terminal and only
//! when `NO_COLOR` is unset. The rest of the crate returns values; this prints them.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sanitize;

/// True when stdout is a terminal and `NO_COLOR` is not set (any value disables colour).
#[must_use]
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Set once stdout could not be written (`redops status | head -5` closed the pipe): later
/// output is dropped quietly instead of panicking in `println!`.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// True once stdout has gone away; a streaming command (`watch`) stops then.
#[must_use]
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

fn out(text: &str) {
    if stdout_closed() {
        return;
    }
    let mut o = std::io::stdout().lock();
    if writeln!(o, "{text}").and_then(|()| o.flush()).is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Stderr gone (a closed terminal after a hang-up) is not worth a panic either.
fn err(text: &str, newline: bool) {
    let mut e = std::io::stderr().lock();
    let _ = if newline {
        writeln!(e, "{text}")
    } else {
        write!(e, "{text}").and_then(|()| e.flush())
    };
}

/// Prints `error: MESSAGE` and an optional `hint: HINT` line to stderr. Both may carry
/// server text, so both are sanitized.
pub fn error(message: &str, hint: Option<&str>) {
    err(
        &format!("error: {}", sanitize::visible_lines(message)),
        true,
    );
    if let Some(h) = hint {
        err(&format!("  hint: {}", sanitize::visible_lines(h)), true);
    }
}

/// Prints plain text to stdout, every control character but the line break made visible.
pub fn line(s: &str) {
    out(&sanitize::visible_lines(s));
}

/// Prints a line painted by [`Paint`] to stdout: its colour sequences are kept when colour is
/// on, everything else is made visible. Callers pass server fields through
/// [`sanitize::visible`] before painting.
pub fn painted(s: &str) {
    out(&sanitize::terminal_line(s, color_enabled()));
}

/// Prints one serialized JSON document to stdout, made terminal-safe without changing what
/// it decodes to.
pub fn json(s: &str) {
    out(&sanitize::json_text(s));
}

/// Prints a prompt (no line break) to stderr, sanitized.
pub fn prompt(s: &str) {
    err(&sanitize::visible(s), false);
}

/// Writes generated text (a completion script, a man page) to stdout as it is; returns the
/// exit code. A reader that stops early (`| head`) is not an error.
#[must_use]
pub fn bytes(b: &[u8]) -> u8 {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(b).and_then(|()| out.flush()) {
        Ok(()) => super::EXIT_OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => super::EXIT_OK,
        Err(e) => {
            error(&format!("cannot write to stdout: {e}"), None);
            super::EXIT_PROBLEM
        }
    }
}

/// Prints text to stderr, every control character but the line break made visible.
pub fn note(s: &str) {
    err(&sanitize::visible_lines(s), true);
}

/// ANSI styles used by the text output; all empty when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// Colour on or off.
    #[must_use]
    pub fn new(on: bool) -> Self {
        Self { on }
    }

    fn wrap(self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    #[must_use]
    pub fn red(self, s: &str) -> String {
        self.wrap("31;1", s)
    }
    #[must_use]
    pub fn yellow(self, s: &str) -> String {
        self.wrap("33", s)
    }
    #[must_use]
    pub fn green(self, s: &str) -> String {
        self.wrap("32", s)
    }
    #[must_use]
    pub fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
    #[must_use]
    pub fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }
}
