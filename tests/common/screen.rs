//! The console drawn on ratatui's `TestBackend`, as text: one line per row, trailing blanks
//! trimmed (what a snapshot or a `contains` check reads).

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

use redops::tui::{view, App};

/// The whole screen of `app` at its size.
pub fn draw(app: &App) -> Buffer {
    let (w, h) = app.size;
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    term.draw(|f| view::render(app, f)).expect("a frame");
    term.backend().buffer().clone()
}

/// A drawn screen as text.
pub fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
