//! Moving around the console, as `impl App`: pane focus, scrolling the focused pane, the
//! selected row (kept on screen), and the mouse (click to select, wheel to scroll). Uses the
//! view's layout so hits match what is drawn; no I/O.

use ratatui::crossterm::event::{MouseEvent, MouseEventKind};
use ratatui::layout::Position;

use super::super::view;
use super::{App, Effect, Pane};

impl App {
    pub(super) fn cycle_focus(&mut self, forward: bool) {
        self.detail_zoom = false;
        self.focus = match (self.focus, forward) {
            (Pane::Tree, true) | (Pane::Log, false) => Pane::Detail,
            (Pane::Detail, true) | (Pane::Tree, false) => Pane::Log,
            (Pane::Log, true) | (Pane::Detail, false) => Pane::Tree,
        };
    }

    /// Enter on a node: its detail fills the screen (k9s's describe), focused for scrolling;
    /// Enter or Esc again returns to the tree.
    pub(super) fn toggle_describe(&mut self) {
        if self.detail_zoom {
            self.detail_zoom = false;
            self.focus = Pane::Tree;
        } else if self.selected_node().is_some() {
            self.detail_zoom = true;
            self.focus = Pane::Detail;
            self.detail_scroll = 0;
        } else {
            self.flash_error("no node selected");
        }
    }

    /// `y`: the selected node's address to the terminal's clipboard.
    pub(super) fn copy_address(&mut self) -> Vec<Effect> {
        let Some(addr) = self.selected_node().map(|n| n.addr.clone()) else {
            self.flash_error("no node selected");
            return Vec::new();
        };
        self.flash_info(&format!("copied {addr}"));
        vec![Effect::Copy(addr)]
    }

    pub(super) fn scroll(&mut self, by: isize) {
        match self.focus {
            Pane::Tree => {
                let visible = self.visible();
                let Some(row) = self.selected_row(&visible) else {
                    return;
                };
                let max = visible.len() - 1;
                let next = row.saturating_add_signed(by).min(max);
                self.select_row(&visible, next);
            }
            Pane::Detail => {
                let by = i16::try_from(by.clamp(-1000, 1000)).unwrap_or(0);
                self.detail_scroll = self.detail_scroll.saturating_add_signed(by);
            }
            Pane::Log => {
                // Up goes back in time.
                let max = self.log.len().saturating_sub(1);
                self.log_scroll = self.log_scroll.saturating_add_signed(-by).min(max);
            }
        }
    }

    pub(super) fn select_row(&mut self, visible: &[usize], row: usize) {
        let name = self
            .shown_group()
            .and_then(|g| g.nodes.get(visible[row]))
            .map(|n| n.name.clone());
        if name != self.selected {
            self.detail_scroll = 0;
        }
        self.selected = name;
        self.keep_selection_visible();
    }

    /// Scrolls the tree so the selected row is on screen.
    pub(super) fn keep_selection_visible(&mut self) {
        let visible = self.visible();
        let rows = usize::from(view::layout(self, self.area()).tree_rows.max(1));
        let row = self.selected_row(&visible).unwrap_or(0);
        if row < self.tree_offset {
            self.tree_offset = row;
        } else if row >= self.tree_offset + rows {
            self.tree_offset = row + 1 - rows;
        }
        self.tree_offset = self
            .tree_offset
            .min(visible.len().saturating_sub(rows))
            .min(row);
    }

    pub(super) fn mouse(&mut self, m: MouseEvent) {
        let areas = view::layout(self, self.area());
        let at = Position::new(m.column, m.row);
        let pane = if areas.tree.contains(at) {
            Some(Pane::Tree)
        } else if areas.detail.is_some_and(|r| r.contains(at)) {
            Some(Pane::Detail)
        } else if areas.log.is_some_and(|r| r.contains(at)) {
            Some(Pane::Log)
        } else {
            None
        };
        match m.kind {
            MouseEventKind::Down(_) => {
                let Some(pane) = pane else { return };
                self.focus = pane;
                if pane == Pane::Tree && m.row >= areas.tree_first_row {
                    let row = usize::from(m.row - areas.tree_first_row) + self.tree_offset;
                    let visible = self.visible();
                    if row < visible.len() {
                        self.select_row(&visible, row);
                    }
                }
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let Some(pane) = pane else { return };
                let prev = self.focus;
                self.focus = pane;
                self.scroll(if m.kind == MouseEventKind::ScrollDown {
                    1
                } else {
                    -1
                });
                if pane != Pane::Tree {
                    self.focus = prev;
                }
            }
            _ => self.dirty = false,
        }
    }
}
