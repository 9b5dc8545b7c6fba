//! Reading drills: the built-ins embedded in the binary (`builtin/*.toml`) and teams' own
//! files, with the config loader's standards: a regular file of at most 4 MB, unknown keys
//! refused with `file:line:column` and a hint, then the names each drill uses checked against
//! the sandbox it starts. Nothing here prints.

use std::path::Path;

use crate::config::Location;

use super::condition::Condition;
use super::spec::{DrillSpec, Forbidden};

/// The built-in drills, in the order `drill list` shows them.
const BUILTIN: &[(&str, &str)] = &[
    ("master-crash", include_str!("builtin/master-crash.toml")),
    (
        "sentinel-failover",
        include_str!("builtin/sentinel-failover.toml"),
    ),
    (
        "planned-switchover",
        include_str!("builtin/planned-switchover.toml"),
    ),
    (
        "lagging-replica",
        include_str!("builtin/lagging-replica.toml"),
    ),
    ("split-brain", include_str!("builtin/split-brain.toml")),
    (
        "stale-old-master",
        include_str!("builtin/stale-old-master.toml"),
    ),
    (
        "persistence-off-primary",
        include_str!("builtin/persistence-off-primary.toml"),
    ),
    (
        "wrong-replicaof",
        include_str!("builtin/wrong-replicaof.toml"),
    ),
    (
        "restore-from-snapshot",
        include_str!("builtin/restore-from-snapshot.toml"),
    ),
    (
        "cluster-shard-failover",
        include_str!("builtin/cluster-shard-failover.toml"),
    ),
];

/// The most keys a fill writes (100 bytes each: 100 MB of data at most).
const MAX_KEYS: u64 = 1_000_000;
/// The fastest the writer is asked to write (one connection, one write at a time).
const MAX_RATE: u32 = 10_000;

/// A drill that cannot be read or makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}\n  hint: {hint}", at.as_ref().map(|a| format!("\n  --> {a}")).unwrap_or_default())]
pub struct DrillError {
    pub message: String,
    /// `file:line:column`, or the built-in's name, when known.
    pub at: Option<String>,
    pub hint: String,
}

impl DrillError {
    fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            at: None,
            hint: hint.into(),
        }
    }
}

/// Every built-in drill (a broken one is a bug: the tests load them all).
///
/// # Errors
/// A built-in that does not parse.
pub fn builtins() -> Result<Vec<DrillSpec>, DrillError> {
    BUILTIN
        .iter()
        .map(|(name, text)| parse(text, &format!("built-in {name}")))
        .collect()
}

/// A built-in by id, or a drill file by path (a name with a `/` or ending in `.toml`).
///
/// # Errors
/// No such built-in, an unreadable file, or a drill that does not parse or check.
pub fn find(name_or_path: &str) -> Result<DrillSpec, DrillError> {
    let looks_like_path = name_or_path.contains('/') || name_or_path.ends_with(".toml");
    if !looks_like_path {
        if let Some((name, text)) = BUILTIN.iter().find(|(id, _)| *id == name_or_path) {
            return parse(text, &format!("built-in {name}"));
        }
        let ids: Vec<&str> = BUILTIN.iter().map(|(id, _)| *id).collect();
        return Err(DrillError::new(
            format!("no built-in drill '{name_or_path}'"),
            format!(
                "`redops drill list` shows them ({}); a drill file is given by its path",
                ids.join(", ")
            ),
        ));
    }
    load_file(Path::new(name_or_path))
}

/// A drill file.
///
/// # Errors
/// Missing, not a regular file, over 4 MB, not UTF-8, or a drill that does not parse or check.
pub fn load_file(path: &Path) -> Result<DrillSpec, DrillError> {
    let shown = path.display().to_string();
    let text = crate::config::read_small_text(path).map_err(|e| {
        DrillError::new(
            format!("cannot read drill file '{shown}': {e}"),
            "give the path of a drill TOML file (a regular UTF-8 file of at most 4 MB)",
        )
    })?;
    parse(&text, &shown)
}

/// Parses and checks drill text; `origin` names it in errors (a path or `built-in NAME`).
///
/// # Errors
/// TOML syntax, an unknown key, a wrong type, or a name the drill's sandbox does not have.
pub fn parse(text: &str, origin: &str) -> Result<DrillSpec, DrillError> {
    let spec: DrillSpec = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or_else(
            || origin.to_string(),
            |span| format!("{origin}:{}", Location::of_offset(text, span.start)),
        );
        let message = e.message().trim().to_string();
        let hint = if message.starts_with("unknown field") || message.starts_with("unknown variant")
        {
            "the drill format is in the README (section \"Drills\"); keys and kinds are \
             snake_case"
        } else {
            "see the README's \"Drills\" section for the format, and the built-ins for examples"
        };
        DrillError {
            message: format!("invalid drill: {message}"),
            at: Some(at),
            hint: hint.to_string(),
        }
    })?;
    check(&spec).map_err(|mut e| {
        e.at = Some(origin.to_string());
        e
    })?;
    Ok(spec)
}

/// The node names of the sandbox a drill starts: `n1` (primary), `n2..` replicas, the chained
/// one, then the spare servers.
#[must_use]
pub fn node_names(spec: &DrillSpec) -> Vec<String> {
    let count = match spec.sandbox.cluster_shape() {
        Some(shape) => shape.total(),
        None => 1 + spec.sandbox.replicas + usize::from(spec.sandbox.chain) + spec.sandbox.spare,
    };
    (1..=count).map(|i| format!("n{i}")).collect()
}

fn check(spec: &DrillSpec) -> Result<(), DrillError> {
    if spec.steps.is_empty() {
        return Err(DrillError::new(
            format!("drill '{}' has no steps", spec.id),
            "add at least one [[steps]] with a goal and an `until` condition",
        ));
    }
    cluster::check_sandbox(&spec.sandbox)?;
    if spec.sandbox.chain && spec.sandbox.replicas == 0 {
        return Err(DrillError::new(
            "a chained replica needs at least one replica",
            "set sandbox.replicas to 1 or more",
        ));
    }
    if spec.sandbox.data_keys > MAX_KEYS {
        return Err(DrillError::new(
            format!(
                "data_keys {} is more than a drill's sandbox holds",
                spec.sandbox.data_keys
            ),
            format!("at most {MAX_KEYS} keys (100 bytes each)"),
        ));
    }
    if spec.sandbox.writer_rate > MAX_RATE {
        return Err(DrillError::new(
            format!(
                "writer_rate {} is more than the drill's writer does",
                spec.sandbox.writer_rate
            ),
            format!("at most {MAX_RATE} writes a second"),
        ));
    }
    if spec.sandbox.spare > 4 {
        return Err(DrillError::new(
            format!(
                "{} spare servers is more than a drill needs",
                spec.sandbox.spare
            ),
            "a drill's sandbox has at most 4 spare servers",
        ));
    }
    if spec.sandbox.replicas > 8 {
        return Err(DrillError::new(
            format!(
                "{} replicas is more than a drill needs",
                spec.sandbox.replicas
            ),
            "a drill's sandbox has at most 8 replicas",
        ));
    }
    if spec.sandbox.sentinels > 5 {
        return Err(DrillError::new(
            format!(
                "{} sentinels is more than a drill needs",
                spec.sandbox.sentinels
            ),
            "a drill's sandbox has at most 5 sentinels",
        ));
    }
    let names = node_names(spec);
    let known = |n: &str, what: &str| {
        if names.iter().any(|k| k == n) {
            Ok(())
        } else {
            Err(DrillError::new(
                format!("{what} names node '{n}', which the drill's sandbox does not have"),
                format!("its nodes are {}", names.join(", ")),
            ))
        }
    };
    for n in &spec.sandbox.never_promote {
        known(n, "sandbox.never_promote")?;
    }
    for (i, step) in spec.steps.iter().enumerate() {
        let what = format!("step {}", i + 1);
        for f in &step.faults {
            known(f.fault.node(), &what)?;
            if let super::spec::Fault::Fill { keys, .. } = &f.fault {
                if *keys > MAX_KEYS {
                    return Err(DrillError::new(
                        format!("{what} fills {keys} keys, more than a drill's sandbox holds"),
                        format!("at most {MAX_KEYS} keys (100 bytes each)"),
                    ));
                }
            }
            if let super::spec::Fault::Replicaof { of: Some(of), .. } = &f.fault {
                known(of, &what)?;
            }
        }
        for f in &step.forbid {
            match f {
                Forbidden::Primary(n) => known(n, &what)?,
                Forbidden::ReplicaOf([n, of]) => {
                    known(n, &what)?;
                    known(of, &what)?;
                }
            }
        }
        check_condition(&step.until, &|n| known(n, &what))?;
    }
    Ok(())
}

fn check_condition(
    c: &Condition,
    known: &dyn Fn(&str) -> Result<(), DrillError>,
) -> Result<(), DrillError> {
    match c {
        Condition::OnePrimaryAmong { nodes } => nodes.iter().try_for_each(|n| known(n)),
        Condition::PrimaryIs { node }
        | Condition::NodeIsUp { node }
        | Condition::KeysAtLeast { node, .. }
        | Condition::Persists { node } => known(node),
        Condition::AllReplicateFrom {
            primary, except, ..
        } => primary.iter().chain(except).try_for_each(|n| known(n)),
        Condition::NodeIsReplicaOf { node, primary, .. } => {
            known(node)?;
            known(primary)
        }
        Condition::ShardPrimary { node, .. } | Condition::ShardReplica { node, .. } => known(node),
        Condition::NoWritesLost | Condition::SentinelsNamePrimary | Condition::ClusterOk => Ok(()),
        Condition::All(all) | Condition::Any(all) => {
            all.iter().try_for_each(|c| check_condition(c, known))
        }
    }
}

mod cluster;
#[cfg(test)]
mod tests;
