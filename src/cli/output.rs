//! Printing for the CLI: errors with hints on stderr, colours only on a terminal and only
//! when `NO_COLOR` is unset. The rest of the crate returns values; this prints them.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::IsTerminal;

/// True when stdout is a terminal and `NO_COLOR` is not set (any value disables colour).
#[must_use]
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Prints `error: MESSAGE` and an optional `hint: HINT` line to stderr.
pub fn error(message: &str, hint: Option<&str>) {
    eprintln!("error: {message}");
    if let Some(h) = hint {
        eprintln!("  hint: {h}");
    }
}

/// Prints a line to stdout.
pub fn line(s: &str) {
    println!("{s}");
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

/// Prints a line to stderr.
pub fn note(s: &str) {
    eprintln!("{s}");
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
