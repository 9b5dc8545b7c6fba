//! The drill panel (`redops drill NAME`): the step under way and its goal, the time against the
//! step's and the drill's limits, what the engine still waits for, the hints shown (`h` for the
//! next), the faults injected, the steps done; at the end, the report. It takes the events
//! pane's place while a drill is on (see [`super::layout`]).

use std::time::Duration;

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::super::app::{App, DrillPanel, Pane, StepShown};
use super::super::fmt;
use super::super::theme::Ui;
use super::push_wrapped;
use crate::drill::report::{hints_detail, GuardTrip};

/// Draws the panel.
pub fn render(app: &App, p: &DrillPanel, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut title = vec![Span::styled(format!(" drill {} ", p.id), t.s(Ui::Title))];
    // The step while one runs (the times are in the body), else the drill's time.
    if let Some(s) = p.step.as_ref().filter(|_| p.report.is_none()) {
        title.push(Span::styled(
            format!("· step {} of {} ", s.index + 1, p.steps),
            t.s(Ui::Text),
        ));
    } else {
        title.push(Span::styled("· drill time ", t.s(Ui::Muted)));
        title.push(limit_span(
            app,
            p.elapsed(p.started, app.now),
            Some(p.limit),
        ));
        title.push(Span::raw(" "));
    }
    if app.size.0 < super::WIDE {
        title.push(Span::styled("(Tab: detail) ", t.s(Ui::Muted)));
    }
    let block = super::pane(app, Line::from(title), app.focus == Pane::Log);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let lines = match &p.report {
        Some(r) => report_lines(app, r, width),
        None => running_lines(app, p, width),
    };
    frame.render_widget(Paragraph::new(lines), inner);
}

/// `elapsed/limit`, warning past three quarters of the limit, danger past it.
fn limit_span(app: &App, elapsed: Duration, limit: Option<Duration>) -> Span<'static> {
    let t = &app.theme;
    let Some(limit) = limit else {
        return Span::styled(fmt::dur(elapsed), t.s(Ui::Text));
    };
    let role = if elapsed >= limit {
        Ui::Danger
    } else if elapsed * 4 >= limit * 3 {
        Ui::Warning
    } else {
        Ui::Text
    };
    Span::styled(
        format!("{} of {}", fmt::dur(elapsed), fmt::dur(limit)),
        t.s(role),
    )
}

fn running_lines(app: &App, p: &DrillPanel, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = Vec::new();
    let Some(s) = &p.step else {
        push_wrapped(&mut lines, width, "", &p.incident, t.s(Ui::Text));
        lines.push(Line::styled("starting…", t.s(Ui::Muted)));
        return lines;
    };
    let bold = t.s(Ui::Text).add_modifier(Modifier::BOLD);
    let faults_in = p.faults.iter().filter(|f| f.step == s.index).count();
    if faults_in < s.faults_total {
        // The goal tells what the incident leaves; until its faults are in, the tree may not
        // show it yet.
        let text = format!(
            "the incident is unfolding ({faults_in} of {} faults in): the goal below is what \
             it leaves",
            s.faults_total
        );
        push_wrapped(&mut lines, width, "", &text, t.s(Ui::Warning));
    }
    push_wrapped(&mut lines, width, "Goal: ", &s.goal, bold);
    lines.push(Line::from(vec![
        Span::styled("Time: step ", t.s(Ui::Muted)),
        limit_span(app, p.elapsed(s.started, app.now), s.limit),
        Span::styled(" · drill ", t.s(Ui::Muted)),
        limit_span(app, p.elapsed(p.started, app.now), Some(p.limit)),
    ]));
    if !p.waiting.is_empty() {
        lines.push(Line::styled("Still wrong:", t.s(Ui::Muted)));
        for w in &p.waiting {
            push_wrapped(&mut lines, width, "  • ", w, t.s(Ui::Warning));
        }
    }
    lines.extend(hint_lines(app, p, s, width));
    for (i, h) in s.hints.iter().enumerate() {
        push_wrapped(
            &mut lines,
            width,
            &format!("  {}. ", i + 1),
            h,
            t.s(Ui::Info),
        );
    }
    let faults: Vec<_> = p.faults.iter().filter(|f| f.step == s.index).collect();
    if !faults.is_empty() {
        // One wrapped line: on a short screen the hints above must not be pushed out.
        let text = faults
            .iter()
            .map(|f| format!("{} {}", fmt::clock(f.at), f.what))
            .collect::<Vec<_>>()
            .join(" · ");
        push_wrapped(&mut lines, width, "Faults: ", &text, t.s(Ui::Danger));
    }
    for (i, (_, ms)) in p.done.iter().enumerate() {
        lines.push(Line::styled(
            format!(
                "✔ step {} done in {}",
                i + 1,
                crate::drill::report::secs(*ms)
            ),
            t.s(Ui::Up),
        ));
    }
    lines
}

/// `Hints: 1 of 3 · h next · by itself in 42s · a: I see the fault (…)`, on two lines when narrow: the
/// hints (and when the next shows by itself), and the key that says the fault is spotted (or
/// when it was).
fn hint_lines(app: &App, p: &DrillPanel, s: &StepShown, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let (shown, total) = (s.hints.len(), s.hints_total);
    let mut hints = vec![Span::styled(
        format!("Hints: {shown} of {total}"),
        t.s(Ui::Muted),
    )];
    if p.hint_asked {
        hints.push(Span::styled(" · next one coming…", t.s(Ui::Muted)));
    } else if shown < total {
        hints.push(Span::styled(" · ", t.s(Ui::Muted)));
        hints.push(Span::styled("h", t.s(Ui::Key)));
        hints.push(Span::styled(" next", t.s(Ui::Muted)));
        if let Some(at) = s.next_hint_at() {
            let left = at.duration_since(app.now).unwrap_or_default();
            hints.push(Span::styled(
                format!(" · by itself in {}", fmt::dur(left)),
                t.s(Ui::Muted),
            ));
        }
    }
    // Saying so counts for the report's time to detect.
    let spotted = match p.noticed {
        Some(at) => vec![Span::styled(
            format!("✔ spotted at {}", fmt::clock(at)),
            t.s(Ui::Up),
        )],
        None => vec![
            Span::styled("a", t.s(Ui::Key)),
            Span::styled(": I see the fault (stops the detect clock)", t.s(Ui::Muted)),
        ],
    };
    let len = |spans: &[Span]| {
        spans
            .iter()
            .map(|x| x.content.chars().count())
            .sum::<usize>()
    };
    if len(&hints) + 3 + len(&spotted) <= width {
        hints.push(Span::styled(" · ", t.s(Ui::Muted)));
        hints.extend(spotted);
        vec![Line::from(hints)]
    } else {
        vec![Line::from(hints), Line::from(spotted)]
    }
}

fn report_lines(app: &App, r: &crate::drill::Report, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = Vec::new();
    let verdict = if r.passed { Ui::Up } else { Ui::Danger };
    let style: Style = t.s(verdict).add_modifier(Modifier::BOLD);
    push_wrapped(&mut lines, width, "", &r.verdict(), style);
    // The text report's figures, each step on one line (the goals are above, as they ran):
    // on a 24-line screen the report file's path must still show.
    let secs = crate::drill::report::secs;
    let detect = r
        .time_to_detect_ms
        .map_or_else(|| "no action after a fault".to_string(), secs);
    let text = format!("took {} · time to detect {detect}", secs(r.elapsed_ms));
    push_wrapped(&mut lines, width, "", &text, t.s(Ui::Text));
    for (i, st) in r.steps.iter().enumerate() {
        let mut text = match (st.done, st.elapsed_ms) {
            (_, None) => "not reached".to_string(),
            (true, Some(ms)) => format!("done in {}", secs(ms)),
            (false, Some(ms)) => format!("not done ({})", secs(ms)),
        };
        if let Some(d) = st.time_to_detect_ms {
            text.push_str(&format!(", first action {} after the faults", secs(d)));
        }
        text.push_str(&format!(
            ", {}{}",
            crate::words::count(st.hints_used, "hint"),
            hints_detail(st.hints_used, st.hints_asked)
        ));
        let role = if st.done { Ui::Text } else { Ui::Warning };
        push_wrapped(
            &mut lines,
            width,
            &format!("step {}: ", i + 1),
            &text,
            t.s(role),
        );
    }
    if !r.waiting_for.is_empty() {
        let text = r.waiting_for.join("; ");
        push_wrapped(
            &mut lines,
            width,
            "still missing: ",
            &text,
            t.s(Ui::Warning),
        );
    }
    let guards = format!(
        "hints used: {}{} · guards tripped: {}",
        r.hints_used,
        hints_detail(r.hints_used, r.hints_asked),
        r.guards_tripped.len()
    );
    lines.push(Line::styled(guards, t.s(Ui::Text)));
    for g in &r.guards_tripped {
        let (lead, action, reason) = match g {
            GuardTrip::Refusal { action, reason, .. } => ("  refused ", action, reason),
            GuardTrip::Override { action, reason, .. } => ("  overridden ", action, reason),
        };
        let text = format!("{action}: {reason}");
        push_wrapped(&mut lines, width, lead, &text, t.s(Ui::Warning));
    }
    let writes = match (r.writes_lost, r.writes_acknowledged) {
        (Some(l), Some(a)) => format!("writes: lost {l} of {a} acknowledged"),
        _ => "writes: could not be checked".to_string(),
    };
    let role = if r.writes_lost == Some(0) {
        Ui::Text
    } else {
        Ui::Danger
    };
    lines.push(Line::styled(writes, t.s(role)));
    if let Some(path) = &r.path {
        push_wrapped(
            &mut lines,
            width,
            "report: ",
            &path.display().to_string(),
            t.s(Ui::Muted),
        );
    }
    lines.push(Line::styled(
        "The drill's servers are stopped. q quits.",
        t.s(Ui::Muted),
    ));
    lines
}
