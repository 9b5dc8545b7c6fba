//! The action dialogs: the plan (Cancel focused; an override only with a typed reason and
//! only where every failed check allows one), the typed confirmation, the picker (a repoint's
//! source) and the notice (an interrupted run, with the safe next step offered).
//!
//! Keys in, [`Outcome`]s out; no I/O, and no safety rule of its own beyond what to offer:
//! the engine enforces them all again.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use crate::ops::session::Prepared;
use crate::ops::{Download, Request, Strategy};

use super::super::prepare;
use super::{LineInput, Outcome};

/// Which button has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Cancel,
    Proceed,
}

/// A plan the operator chose to go on with, and the reasons given (if any) for overriding
/// failed checks and for skipping the snapshot gate.
#[derive(Debug, Clone, PartialEq)]
pub struct Armed {
    pub prepared: Prepared,
    pub override_reason: Option<String>,
    pub skip_snapshot_reason: Option<String>,
}

/// What a reason being typed in the plan dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonFor {
    /// Overriding the failed checks (`o`).
    Override,
    /// Skipping the snapshot gate (`x`).
    SkipSnapshot,
}

/// The plan dialog: what will happen, the checks, what is at risk; Cancel focused.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanDialog {
    pub prepared: Box<Prepared>,
    /// The console's read-only mode (nothing is offered).
    pub read_only: bool,
    pub focus: Button,
    /// The reason recorded for overriding failed checks.
    pub override_reason: Option<String>,
    /// The reason recorded for skipping the snapshot gate.
    pub skip_snapshot_reason: Option<String>,
    /// The reason being typed (after `o` or `x`), and what it is for.
    pub reason_input: Option<(ReasonFor, LineInput)>,
    pub scroll: u16,
    /// Why the last key did nothing (Enter on a disabled Continue), shown in the dialog.
    pub message: Option<String>,
}

impl PlanDialog {
    /// A dialog on `prepared`, Cancel focused.
    #[must_use]
    pub fn new(prepared: Prepared) -> Self {
        Self {
            read_only: prepared.read_only,
            prepared: Box::new(prepared),
            focus: Button::Cancel,
            override_reason: None,
            skip_snapshot_reason: None,
            reason_input: None,
            scroll: 0,
            message: None,
        }
    }

    /// The proceed button's word: `Run` for a plain confirm, `Continue` before a typed one.
    #[must_use]
    pub fn proceed_word(&self) -> &'static str {
        match self.prepared.plan.confirm {
            crate::ops::Confirm::Yes => "Run",
            crate::ops::Confirm::TypeName(_) => "Continue",
        }
    }

    fn armed(&self) -> Armed {
        Armed {
            prepared: (*self.prepared).clone(),
            override_reason: self.override_reason.clone(),
            skip_snapshot_reason: self.skip_snapshot_reason.clone(),
        }
    }

    /// Why Proceed is disabled, in words with what to do: the core's refusal of the plan.
    /// The failed checks are listed above (✗), so they are counted, not repeated: the
    /// footer is one line.
    fn disabled_why(&self) -> String {
        match self.prepared.refusal() {
            Some(crate::ops::Refusal::NeedsOverride { failed }) => format!(
                "{} (✗ above); o overrides with a reason (recorded)",
                crate::words::count(failed.len(), "failed check")
            ),
            Some(r) => prepare::flash(&r),
            None => "the plan is refused".to_string(),
        }
    }

    /// Why nothing can be offered (read-only, HA manager, a failure no override covers, no
    /// snapshot gate), in the dialog's words: the core's refusal (`Prepared::blocked`).
    #[must_use]
    pub fn blocked(&self) -> Option<String> {
        self.prepared.blocked().map(|r| prepare::refusal(&r))
    }

    /// True when failed checks may be overridden (each of them allows it).
    #[must_use]
    pub fn can_override(&self) -> bool {
        self.blocked().is_none() && self.prepared.needs_override()
    }

    /// True when the plan has a snapshot gate that may be skipped (with a reason): a role
    /// change that can run at all. An on-demand snapshot is the gate itself.
    #[must_use]
    pub fn can_skip_snapshot(&self) -> bool {
        self.prepared.gate_skippable()
    }

    /// True when Proceed is offered.
    #[must_use]
    pub fn can_proceed(&self) -> bool {
        self.blocked().is_none()
            && (!self.prepared.needs_override() || self.override_reason.is_some())
    }

    pub(super) fn key(&mut self, key: &KeyEvent) -> Outcome {
        if let Some((what, input)) = &mut self.reason_input {
            match key.code {
                KeyCode::Esc => self.reason_input = None,
                KeyCode::Enter => {
                    let r = input.text.trim();
                    if !r.is_empty() {
                        let r = Some(r.to_string());
                        match what {
                            ReasonFor::Override => self.override_reason = r,
                            ReasonFor::SkipSnapshot => self.skip_snapshot_reason = r,
                        }
                        self.reason_input = None;
                    }
                }
                _ => {
                    input.edit(key);
                }
            }
            return Outcome::Keep;
        }
        self.message = None;
        match key.code {
            KeyCode::Esc | KeyCode::Char('q' | 'n') => Outcome::Close,
            KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Left
            | KeyCode::Right
            | KeyCode::Char('h' | 'l') => {
                // A disabled Continue takes the focus too: Enter on it says why it is disabled.
                self.focus = match self.focus {
                    Button::Cancel if self.blocked().is_none() => Button::Proceed,
                    _ => Button::Cancel,
                };
                Outcome::Keep
            }
            // A plain confirm (a snapshot: no role changes) takes a `y` as well as Run.
            KeyCode::Char('y')
                if self.can_proceed() && self.prepared.plan.confirm == crate::ops::Confirm::Yes =>
            {
                Outcome::PlanAccepted(Box::new(self.armed()))
            }
            KeyCode::Enter => match self.focus {
                Button::Proceed if self.can_proceed() => {
                    Outcome::PlanAccepted(Box::new(self.armed()))
                }
                Button::Proceed => {
                    self.message = Some(format!(
                        "{} is disabled: {}",
                        self.proceed_word(),
                        self.disabled_why()
                    ));
                    Outcome::Keep
                }
                Button::Cancel => Outcome::Close,
            },
            KeyCode::Char('o') if self.can_override() => {
                self.reason_input = Some((
                    ReasonFor::Override,
                    LineInput::with(self.override_reason.as_deref().unwrap_or_default()),
                ));
                Outcome::Keep
            }
            // A second `x` puts the gate back.
            KeyCode::Char('x') if self.skip_snapshot_reason.is_some() => {
                self.skip_snapshot_reason = None;
                Outcome::Keep
            }
            KeyCode::Char('x') if self.can_skip_snapshot() => {
                self.reason_input = Some((ReasonFor::SkipSnapshot, LineInput::default()));
                Outcome::Keep
            }
            KeyCode::Char('t')
                if self.prepared.request.has_strategy()
                    && !self.prepared.plan.through_sentinel() =>
            {
                let mut r = self.prepared.request.clone();
                r.strategy = match r.strategy {
                    Strategy::Manual => Strategy::Native,
                    Strategy::Native => Strategy::Manual,
                    // A Sentinel group has one way: through Sentinel.
                    Strategy::Sentinel => Strategy::Sentinel,
                };
                Outcome::Replan(r)
            }
            KeyCode::Char('d') if self.prepared.request.has_download() => {
                let mut r = self.prepared.request.clone();
                r.download = match r.download {
                    Download::Off => Download::Backups,
                    Download::Backups | Download::Into(_) => Download::Off,
                };
                Outcome::Replan(r)
            }
            _ => {
                self.scroll = scrolled(self.scroll, key);
                Outcome::Keep
            }
        }
    }
}

fn scrolled(at: u16, key: &KeyEvent) -> u16 {
    match key.code {
        KeyCode::Down | KeyCode::Char('j') => at.saturating_add(1),
        KeyCode::Up | KeyCode::Char('k') => at.saturating_sub(1),
        KeyCode::PageDown => at.saturating_add(10),
        KeyCode::PageUp => at.saturating_sub(10),
        KeyCode::Home => 0,
        _ => at,
    }
}

/// Typed confirmation of a role change: the exact name, then Enter.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmDialog {
    pub armed: Box<Armed>,
    pub expected: String,
    pub input: LineInput,
    /// Why Enter did not confirm ("type n3 to confirm: you typed n2"), shown in the dialog.
    pub message: Option<String>,
}

impl ConfirmDialog {
    /// Asks for `expected` before running `armed`.
    #[must_use]
    pub fn new(armed: Box<Armed>, expected: &str) -> Self {
        Self {
            armed,
            expected: expected.to_string(),
            input: LineInput::default(),
            message: None,
        }
    }

    pub(super) fn key(&mut self, key: &KeyEvent) -> Outcome {
        match key.code {
            KeyCode::Esc => Outcome::Close,
            KeyCode::Enter if self.input.text == self.expected => Outcome::Confirmed {
                armed: self.armed.clone(),
                typed: self.input.text.clone(),
            },
            KeyCode::Enter => {
                let typed = self.input.text.trim();
                self.message = Some(if typed.is_empty() {
                    format!("type {} to confirm", self.expected)
                } else {
                    format!("type {} to confirm: you typed {typed}", self.expected)
                });
                Outcome::Keep
            }
            _ => {
                if self.input.edit(key) {
                    self.message = None;
                }
                Outcome::Keep
            }
        }
    }
}

/// One choice in a picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickItem {
    pub name: String,
    /// Role, state, lag: what helps choose.
    pub about: String,
}

/// Choose one node (a repoint's source); Enter plans `request` with it as the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    pub title: String,
    pub items: Vec<PickItem>,
    pub chosen: usize,
    pub request: Request,
}

impl Picker {
    pub(super) fn key(&mut self, key: &KeyEvent) -> Outcome {
        let n = self.items.len();
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => Outcome::Close,
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab if n > 0 => {
                self.chosen = (self.chosen + 1) % n;
                Outcome::Keep
            }
            KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab if n > 0 => {
                self.chosen = (self.chosen + n - 1) % n;
                Outcome::Keep
            }
            KeyCode::Enter => match self.items.get(self.chosen) {
                Some(item) => {
                    let mut r = self.request.clone();
                    r.source = Some(item.name.clone());
                    Outcome::Picked(r)
                }
                None => Outcome::Close,
            },
            _ => Outcome::Keep,
        }
    }
}

/// Something the operator must see (an interrupted run), with an action it may offer.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeDialog {
    pub title: String,
    pub lines: Vec<String>,
    /// The button's words and the request it plans.
    pub offer: Option<(String, Request)>,
    pub focus: Button,
    pub scroll: u16,
}

impl NoticeDialog {
    pub(super) fn key(&mut self, key: &KeyEvent) -> Outcome {
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => Outcome::Close,
            KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Left
            | KeyCode::Right
            | KeyCode::Char('h' | 'l') => {
                self.focus = match self.focus {
                    Button::Cancel if self.offer.is_some() => Button::Proceed,
                    _ => Button::Cancel,
                };
                Outcome::Keep
            }
            KeyCode::Enter => match (&self.offer, self.focus) {
                (Some((_, r)), Button::Proceed) => Outcome::Offer(r.clone()),
                _ => Outcome::Close,
            },
            _ => {
                self.scroll = scrolled(self.scroll, key);
                Outcome::Keep
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Modal;
    use super::*;
    use crate::config::Config;
    use crate::ops::fake::FakeOps;
    use crate::ops::session::{self, Context};
    use crate::ops::ActionKind;
    use crate::topology::Topology;
    use ratatui::crossterm::event::KeyModifiers;
    use std::time::SystemTime;

    /// The request prepared on the simulated group as the console does it (scoped to it).
    fn prepare(c: &Config, t: &Topology, req: &Request, read_only: bool) -> Prepared {
        let ctx = Context {
            config: c,
            topology: t,
            marks: &[],
            read_only,
            now: SystemTime::now(),
        };
        session::prepare(&ctx, &req.clone().in_group(0))
            .unwrap()
            .into_run()
            .unwrap()
    }

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn typed(m: &mut Modal, s: &str) {
        for c in s.chars() {
            m.key(&key(KeyCode::Char(c)));
        }
    }

    /// A switchover plan to r1 on the simulated group.
    fn plan(fake: &FakeOps) -> PlanDialog {
        let (config, topology) = fake.config_and_topology("g");
        let req = Request::new(ActionKind::Switchover, Some("r1".into()));
        PlanDialog::new(prepare(&config, &topology, &req, false))
    }

    #[test]
    fn cancel_is_focused_then_typed_confirmation() {
        let fake = FakeOps::group(&["p", "r1", "r2"]);
        let mut m = Modal::Plan(plan(&fake));
        assert_eq!(m.key(&key(KeyCode::Enter)), Outcome::Close, "Enter cancels");
        let mut m = Modal::Plan(plan(&fake));
        m.key(&key(KeyCode::Right));
        let Outcome::PlanAccepted(armed) = m.key(&key(KeyCode::Enter)) else {
            panic!("Proceed accepts a plan whose checks passed");
        };
        let mut c = ConfirmDialog::new(armed, "r1");
        c.key(&key(KeyCode::Enter));
        assert_eq!(c.message.as_deref(), Some("type r1 to confirm"));
        let mut c = Modal::Confirm(c);
        typed(&mut c, "r2");
        assert_eq!(c.key(&key(KeyCode::Enter)), Outcome::Keep, "wrong word");
        let Modal::Confirm(d) = &c else {
            unreachable!()
        };
        assert_eq!(
            d.message.as_deref(),
            Some("type r1 to confirm: you typed r2"),
            "a wrong name says so and the dialog stays"
        );
        c.key(&key(KeyCode::Backspace));
        typed(&mut c, "1");
        assert!(matches!(
            c.key(&key(KeyCode::Enter)),
            Outcome::Confirmed { typed, .. } if typed == "r1"
        ));
    }

    #[test]
    fn a_failed_overridable_check_needs_a_typed_reason() {
        let fake = FakeOps::group(&["p", "r1", "r2"]);
        // A newer target than its siblings: an overridable failure (RDB format).
        fake.node("r1", |n| n.version = "7.2.4".into());
        let mut d = plan(&fake);
        assert!(d.prepared.needs_override(), "{:?}", d.prepared.plan.checks);
        assert!(d.blocked().is_none() && !d.can_proceed());
        d.key(&key(KeyCode::Right));
        assert_eq!(
            d.focus,
            Button::Proceed,
            "a disabled Continue takes the focus"
        );
        assert_eq!(
            d.key(&key(KeyCode::Enter)),
            Outcome::Keep,
            "Enter on a disabled Continue keeps the plan open"
        );
        let why = d.message.clone().expect("and says why");
        assert!(
            why == "Continue is disabled: 2 failed checks (✗ above); o overrides with a reason (recorded)",
            "{why}"
        );
        d.key(&key(KeyCode::Char('o')));
        assert!(d.message.is_none(), "the next key clears the message");
        d.key(&key(KeyCode::Enter));
        assert!(d.override_reason.is_none(), "an empty reason is no reason");
        for c in "lag is a stale poll".chars() {
            d.key(&key(KeyCode::Char(c)));
        }
        d.key(&key(KeyCode::Enter));
        assert_eq!(d.override_reason.as_deref(), Some("lag is a stale poll"));
        assert_eq!(d.focus, Button::Proceed);
        let Outcome::PlanAccepted(a) = d.key(&key(KeyCode::Enter)) else {
            panic!("overridden plan proceeds");
        };
        assert_eq!(a.override_reason.as_deref(), Some("lag is a stale poll"));
    }

    #[test]
    fn skipping_the_snapshot_gate_needs_a_typed_reason_and_x_undoes_it() {
        let fake = FakeOps::group(&["p", "r1", "r2"]);
        let mut d = plan(&fake);
        assert!(d.can_skip_snapshot(), "a switchover has a gate");
        d.key(&key(KeyCode::Char('x')));
        assert!(matches!(d.reason_input, Some((ReasonFor::SkipSnapshot, _))));
        d.key(&key(KeyCode::Enter));
        assert!(
            d.skip_snapshot_reason.is_none(),
            "an empty reason is no reason"
        );
        for c in "disk full, snapshot taken by hand".chars() {
            d.key(&key(KeyCode::Char(c)));
        }
        d.key(&key(KeyCode::Enter));
        assert!(d.reason_input.is_none());
        assert_eq!(
            d.skip_snapshot_reason.as_deref(),
            Some("disk full, snapshot taken by hand")
        );
        assert!(d.override_reason.is_none(), "a skip is not an override");
        d.key(&key(KeyCode::Right));
        let Outcome::PlanAccepted(a) = d.key(&key(KeyCode::Enter)) else {
            panic!("the plan proceeds");
        };
        assert_eq!(
            a.skip_snapshot_reason.as_deref(),
            Some("disk full, snapshot taken by hand")
        );
        assert!(a.override_reason.is_none());

        d.key(&key(KeyCode::Char('x')));
        assert!(
            d.skip_snapshot_reason.is_none(),
            "x again restores the gate"
        );
        assert!(d.reason_input.is_none());
    }

    #[test]
    fn no_skip_offered_for_a_snapshot_a_blocked_plan_or_read_only() {
        let fake = FakeOps::group(&["p", "r1", "r2"]);
        let (config, topology) = fake.config_and_topology("g");
        let req = Request::new(ActionKind::Snapshot, Some("p".into()));
        let mut d = PlanDialog::new(prepare(&config, &topology, &req, false));
        assert!(
            matches!(d.key(&key(KeyCode::Char('y'))), Outcome::PlanAccepted(_)),
            "a snapshot runs on y, no name typed"
        );
        assert!(
            matches!(plan(&fake).key(&key(KeyCode::Char('y'))), Outcome::Keep),
            "a role change does not take a y"
        );
        assert!(!d.can_skip_snapshot(), "a snapshot is the gate itself");
        d.key(&key(KeyCode::Char('x')));
        assert!(d.reason_input.is_none());

        let (config, topology) = fake.config_and_topology("g");
        let req = Request::new(ActionKind::Switchover, Some("r1".into()));
        let mut d = PlanDialog::new(prepare(&config, &topology, &req, true));
        d.key(&key(KeyCode::Char('x')));
        assert!(d.reason_input.is_none(), "read-only offers nothing");

        fake.node("r1", |n| n.down = true);
        let mut d = plan(&fake);
        d.key(&key(KeyCode::Char('x')));
        assert!(d.reason_input.is_none(), "a refused plan offers nothing");
    }

    #[test]
    fn a_hard_failure_offers_nothing() {
        let fake = FakeOps::group(&["p", "r1", "r2"]);
        fake.node("r1", |n| n.down = true);
        let mut d = plan(&fake);
        assert!(d.blocked().is_some());
        d.key(&key(KeyCode::Char('o')));
        assert!(d.reason_input.is_none(), "no override of a hard failure");
        d.key(&key(KeyCode::Right));
        assert_eq!(d.key(&key(KeyCode::Enter)), Outcome::Close);
    }

    #[test]
    fn strategy_toggle_replans() {
        let fake = FakeOps::group(&["p", "r1"]);
        let mut d = plan(&fake);
        match d.key(&key(KeyCode::Char('t'))) {
            Outcome::Replan(r) => assert_eq!(r.strategy, Strategy::Native),
            other => panic!("{other:?}"),
        }
    }
}
