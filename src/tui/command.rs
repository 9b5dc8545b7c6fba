//! The `:` command line: parsing a line into a [`Command`] and completing a partial one.
//!
//! Pure: the lists completion draws on (group and theme names) are passed in.

use std::path::PathBuf;

/// A command the operator typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Group(String),
    Theme(String),
    Export(PathBuf),
    /// `None` clears the filter.
    Filter(Option<String>),
    Freeze,
    /// Past runs from the audit log.
    History,
    /// The backups of the shown group: catalog, manifests, restore tests.
    Backups,
    /// The shown group's replicas compared with their primary.
    CheckData,
    /// Every primary of the shown cluster group at one cut (`snapshot --all`), writes paused
    /// at most this many ms while the transfers begin (`None`: no pause).
    SnapshotAll(Option<u64>),
    /// Retention: `keep N` or `older-than AGE`, as typed (read by `backup::prune`).
    Prune(String),
    /// `SENTINEL RESET` on the shown group's sentinels, one at a time (`sentinel reset`).
    SentinelReset,
    Help,
    Quit,
}

/// Every command word with its argument and what it does, for completion and help.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("group", "NAME", "show another group"),
    ("theme", "NAME|FILE", "switch theme"),
    ("export", "FILE", "write the event log to FILE"),
    ("filter", "TEXT", "filter nodes (no TEXT clears)"),
    ("freeze", "", "freeze or resume the view"),
    ("history", "", "past runs from the audit log (Enter: steps)"),
    (
        "backups",
        "",
        "the group's backups (Enter: manifest, v: restore test)",
    ),
    (
        "check-data",
        "",
        "compare the group's replicas with their primary",
    ),
    (
        "snapshot-all",
        "[MS]",
        "every primary of the cluster at one cut (MS: pause writes at most MS ms)",
    ),
    (
        "prune",
        "keep N|older-than AGE",
        "delete old backups (the list first, then y/N; audited)",
    ),
    (
        "sentinel-reset",
        "",
        "SENTINEL RESET on the group's sentinels, one at a time (plan, y/N; audited)",
    ),
    ("help", "", "key bindings"),
    ("quit", "", "leave the console"),
];

/// Parses a command line (without the leading `:`).
///
/// # Errors
/// An unknown command or a missing argument, as a message for the status line.
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim().trim_start_matches(':').trim();
    let (word, arg) = match line.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim()),
        None => (line, ""),
    };
    let need = |what: &str| -> Result<String, String> {
        if arg.is_empty() {
            Err(format!("':{word}' needs {what}"))
        } else {
            Ok(arg.to_string())
        }
    };
    match word {
        "group" | "g" => need("a group name").map(Command::Group),
        "theme" => need("a theme name or file").map(Command::Theme),
        "export" | "w" => need("a file name").map(|f| Command::Export(PathBuf::from(f))),
        "filter" => Ok(Command::Filter((!arg.is_empty()).then(|| arg.to_string()))),
        "freeze" | "unfreeze" | "resume" => Ok(Command::Freeze),
        "history" | "hist" => Ok(Command::History),
        "backups" | "backup" => Ok(Command::Backups),
        "check-data" | "checkdata" => Ok(Command::CheckData),
        "snapshot-all" => match arg {
            "" => Ok(Command::SnapshotAll(None)),
            ms => match ms.parse::<u64>() {
                Ok(n) if (1..=30_000).contains(&n) => Ok(Command::SnapshotAll(Some(n))),
                _ => Err(format!(
                    "':snapshot-all {ms}': the pause is a number of milliseconds, 1 to 30000"
                )),
            },
        },
        "prune" => need("a rule: keep N or older-than AGE").map(Command::Prune),
        // The shown group's: a word after it (a group name?) would be ignored, so it is refused.
        "sentinel-reset" if arg.is_empty() => Ok(Command::SentinelReset),
        "sentinel-reset" => Err(format!(
            "':sentinel-reset' takes no argument, not '{arg}': it resets the shown group (g picks one)"
        )),
        "help" | "h" => Ok(Command::Help),
        "quit" | "q" | "q!" => Ok(Command::Quit),
        "" => Err("empty command; try :help".to_string()),
        other => Err(format!(
            "unknown command '{other}'; commands: {}",
            COMMANDS
                .iter()
                .map(|(c, _, _)| *c)
                .collect::<Vec<_>>()
                .join(" ")
        )),
    }
}

/// Completions for a partial line: whole replacement lines, sorted.
#[must_use]
pub fn complete(line: &str, groups: &[String], themes: &[String]) -> Vec<String> {
    let line = line.trim_start();
    match line.split_once(' ') {
        None => COMMANDS
            .iter()
            .filter(|(c, _, _)| c.starts_with(line))
            .map(|(c, arg, _)| {
                if arg.is_empty() {
                    (*c).to_string()
                } else {
                    format!("{c} ")
                }
            })
            .collect(),
        Some((word, arg)) => {
            let pool: &[String] = match word {
                "group" | "g" => groups,
                "theme" => themes,
                _ => &[],
            };
            let arg = arg.trim_start();
            pool.iter()
                .filter(|c| c.starts_with(arg))
                .map(|c| format!("{word} {c}"))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse("group cache"), Ok(Command::Group("cache".into())));
        assert_eq!(parse(":theme light"), Ok(Command::Theme("light".into())));
        assert_eq!(
            parse("export /tmp/x.log"),
            Ok(Command::Export("/tmp/x.log".into()))
        );
        assert_eq!(parse("filter"), Ok(Command::Filter(None)));
        assert_eq!(parse("q"), Ok(Command::Quit));
        assert_eq!(parse("history"), Ok(Command::History));
        assert_eq!(parse("backups"), Ok(Command::Backups));
        assert_eq!(parse("check-data"), Ok(Command::CheckData));
        assert_eq!(parse("sentinel-reset"), Ok(Command::SentinelReset));
        assert!(parse("sentinel-reset cache")
            .unwrap_err()
            .contains("takes no argument"));
        assert_eq!(parse("snapshot-all"), Ok(Command::SnapshotAll(None)));
        assert_eq!(
            parse("snapshot-all 500"),
            Ok(Command::SnapshotAll(Some(500)))
        );
        assert!(parse("snapshot-all 0").unwrap_err().contains("1 to 30000"));
        assert!(parse("snapshot-all soon")
            .unwrap_err()
            .contains("milliseconds"));
        assert!(parse("group").unwrap_err().contains("needs a group name"));
        assert!(parse("frobnicate")
            .unwrap_err()
            .contains("unknown command 'frobnicate'"));
    }

    #[test]
    fn completes_words_then_arguments() {
        let groups = vec!["cache-main".to_string(), "sessions".to_string()];
        let themes = vec!["dark".to_string(), "light".to_string()];
        assert_eq!(complete("gr", &groups, &themes), vec!["group "]);
        assert_eq!(complete("f", &groups, &themes), vec!["filter ", "freeze"]);
        assert_eq!(
            complete("group s", &groups, &themes),
            vec!["group sessions"]
        );
        assert_eq!(
            complete("theme ", &groups, &themes),
            vec!["theme dark", "theme light"]
        );
        assert!(complete("export x", &groups, &themes).is_empty());
        assert_eq!(complete("hi", &groups, &themes), vec!["history"]);
    }
}
