//! Running a prepared plan from the command line: print the plan (text or a JSON line), take
//! the core's refusal, ask for confirmation on the terminal (or take `--yes`), run it with the
//! core's `session::execute`, show its events (`progress.rs`: lines, bars on a terminal, or
//! JSON lines), the outcome, and what was done after it. Every guard is the core's: this only gathers the operator's answers and
//! prints.

use std::io::{BufRead, IsTerminal, Write};

use super::events::print_outcome;
use super::progress::{Mode, Printer};
use super::{fail, ActionContext, ActionFlags};
use crate::cli::{output, EXIT_OK, EXIT_REFUSED, EXIT_USAGE};
use crate::ops::session::{self, Aftermath, Prepared};
use crate::ops::{guard, Confirm, RealOps};

/// Prints the plan, asks for confirmation, runs it, prints the outcome and what was done
/// after; returns the exit code.
pub(super) async fn run(ctx: &ActionContext, p: &Prepared, flags: &ActionFlags) -> u8 {
    let plan = &p.plan;
    if ctx.json {
        output::json(&serde_json::json!({"event": "plan", "plan": plan}).to_string());
    } else {
        for l in plan.to_string().lines() {
            output::line(l);
        }
        if plan.failures().any(|c| c.overridable) {
            output::line(&format!("override: {}", crate::cli::next_step::OVERRIDE));
        }
    }
    let reason = |on: bool| if on { flags.reason.clone() } else { None };
    let mut approval = p.approval(None, reason(flags.force), reason(flags.skip_snapshot));
    let blocked = guard::refusal(plan, &approval).is_some();
    if flags.dry_run {
        if ctx.json {
            output::json(
                &serde_json::json!({"event": "dry_run", "changed": false, "would_refuse": blocked})
                    .to_string(),
            );
        } else {
            output::line(if blocked {
                "dry run: nothing was changed; this plan would be refused"
            } else {
                "dry run: nothing was changed"
            });
        }
        return if blocked { EXIT_REFUSED } else { EXIT_OK };
    }
    if !blocked {
        // When refused, the engine records why; asking would be pointless.
        match confirm(&plan.confirm, flags.yes) {
            Ok(c) => approval.confirmation = Some(c),
            Err(code) => return code,
        }
    }
    let json = ctx.json;
    // The engine's callback must be 'static: the printer is shared with it, and its last bar
    // cleared here once the run has ended (a run that ends under a bar leaves none drawn).
    let printer = std::sync::Arc::new(std::sync::Mutex::new(Printer::new(Mode::detect(json))));
    let shown = std::sync::Arc::clone(&printer);
    let on_event = move |e| {
        if let Ok(mut p) = shown.lock() {
            p.event(&e);
        }
    };
    let executed = session::execute(p, &approval, RealOps::new, on_event).await;
    if let Ok(mut p) = printer.lock() {
        p.finish();
    }
    let done = match executed {
        Ok(d) => d,
        Err(e) => return fail(&e, json),
    };
    print_outcome(&done.outcome, json);
    match &done.after {
        Aftermath::Marked { mark, file } if !json => output::line(&format!(
            "  {} is marked for rejoin ({}): when it is back, run `redops rejoin {}`",
            mark.node,
            file.display(),
            mark.node
        )),
        Aftermath::MarkFailed { error } => output::note(&format!(
            "warning: the old primary could not be marked: {error}"
        )),
        Aftermath::ClearFailed { error } => output::note(&format!(
            "warning: the rejoin mark could not be cleared: {error}"
        )),
        Aftermath::Marked { .. } | Aftermath::MarkCleared { .. } | Aftermath::Nothing => {}
    }
    done.outcome.exit_code()
}

/// Asks on the terminal. `--yes` answers for the operator. A plain confirmation (a snapshot,
/// which changes no role) is a y/N; a role change asks for the target's name. An answer that
/// does not confirm is a refusal (exit 3), not a usage error: nothing was changed.
pub(crate) fn confirm(what: &Confirm, yes: bool) -> Result<String, u8> {
    let expected = match what {
        Confirm::Yes => "yes".to_string(),
        Confirm::TypeName(n) => n.clone(),
    };
    if yes {
        return Ok(expected);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        output::error(
            "refusing to act without confirmation: standard input is not a terminal",
            Some(
                "run it in a terminal to confirm, or pass --yes (after --dry-run to see the plan)",
            ),
        );
        return Err(EXIT_USAGE);
    }
    match what {
        Confirm::Yes => output::prompt("proceed? [y/N] "),
        Confirm::TypeName(n) => output::prompt(&format!(
            "this changes roles. type the target's name ({n}) to proceed: "
        )),
    }
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let answer = match stdin.lock().read_line(&mut line) {
        Ok(_) => Some(line.trim()),
        Err(_) => None,
    };
    match answer.map(|a| confirmed(what, a)) {
        Some(Ok(())) => Ok(expected),
        Some(Err(why)) => {
            output::error(&format!("not confirmed: nothing was changed ({why})"), None);
            Err(EXIT_REFUSED)
        }
        None => {
            output::error("not confirmed: nothing was changed (no answer read)", None);
            Err(EXIT_REFUSED)
        }
    }
}

/// Whether `answer` confirms `what`; otherwise what the operator answered, in words.
fn confirmed(what: &Confirm, answer: &str) -> Result<(), String> {
    match what {
        Confirm::Yes if matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes") => Ok(()),
        Confirm::Yes if answer.is_empty() => Err("the default is no".to_string()),
        Confirm::Yes => Err(format!("answered '{answer}'")),
        Confirm::TypeName(n) if answer == n => Ok(()),
        Confirm::TypeName(n) if answer.is_empty() => Err(format!("type {n} to confirm")),
        Confirm::TypeName(n) => Err(format!("type {n} to confirm: you typed '{answer}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::confirmed;
    use crate::ops::Confirm;

    #[test]
    fn a_snapshot_takes_y_and_a_role_change_its_name() {
        for a in ["y", "Y", "yes", "YES"] {
            assert_eq!(confirmed(&Confirm::Yes, a), Ok(()), "{a}");
        }
        assert!(confirmed(&Confirm::Yes, "").is_err());
        assert!(confirmed(&Confirm::Yes, "n").is_err());
        let n3 = Confirm::TypeName("n3".into());
        assert_eq!(confirmed(&n3, "n3"), Ok(()));
        assert_eq!(
            confirmed(&n3, "n2"),
            Err("type n3 to confirm: you typed 'n2'".to_string())
        );
        assert!(confirmed(&n3, "y").is_err());
    }
}
