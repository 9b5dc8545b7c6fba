//! The headless runner: starts a drill's sandbox and writer, then on every poll reads the
//! topology (through the core [`Monitor`]), what the trainee did (the audit log the sandbox's
//! config points at), and the writer's tally; feeds them to the pure engine, carries out the
//! faults it hands out, and ends with the report written beside redops's audit log. The
//! sandbox is stopped before it returns (and on drop, when the caller gives up on it).
//!
//! Events go to a callback; the CLI prints them (text or JSON lines), the console's drill
//! panel takes them through a channel (`redops drill NAME`: [`Ready::start`] gives the config
//! the console opens on, then [`Ready::play`] runs beside it), a test collects them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::audit::{Record, Tail, RUN_STARTED};
use crate::config::Config;
use crate::monitor::{Lookup, Monitor};
use crate::node::Timeouts;
use crate::sandbox::{Sandbox, Spec};

use super::condition::{live_primaries, WriteCheck};
use super::engine::{Activity, Drill, DrillEvent};
use super::faults::{self, Injector};
use super::load::DrillError;
use super::report::Report;
use super::spec::{DrillSpec, Fault, Persistence};
use super::writer::{self, Writer};

/// How a drill is run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Overrides the drill's time limit.
    pub time_limit: Option<Duration>,
    /// Where the report goes (`drills/` beside the audit log, see `report::reports_dir`).
    pub reports_dir: PathBuf,
    /// The server binary (found as the sandbox finds it when `None`).
    pub server_bin: Option<PathBuf>,
    /// How many hints the trainee has asked for so far (a front-end counts up; each ask shows
    /// the current step's next hint at the next poll).
    pub hint_asks: Arc<AtomicUsize>,
}

/// What the runner tells its front-end.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunnerEvent {
    /// The sandbox is up: the trainee acts with `redops -c CONFIG ...`.
    DrillStarted {
        drill: String,
        title: String,
        incident: String,
        config: PathBuf,
        nodes: Vec<String>,
        #[serde(with = "super::spec::duration")]
        time_limit: Duration,
        /// How many steps the drill has.
        steps: usize,
    },
    FaultInjected {
        step: usize,
        fault: Fault,
        /// What the fault did, in words.
        what: String,
    },
    /// What the current step's condition still misses, each time that changes.
    Waiting {
        step: usize,
        missing: Vec<String>,
    },
    DrillFinished {
        report: Box<Report>,
    },
    /// What the engine says (`step_started`, `hint`, `step_done`), as it says it.
    #[serde(untagged)]
    Step(DrillEvent),
}

/// Plays a drill to its end; returns the report (also sent as `DrillFinished`).
///
/// # Errors
/// The sandbox could not be started or prepared; the drill never began.
pub async fn run(
    spec: DrillSpec,
    opts: &Options,
    emit: impl FnMut(RunnerEvent),
) -> Result<Report, DrillError> {
    Ready::start(spec, opts).await?.play(opts, emit).await
}

/// A drill whose sandbox is up, its config written, not played yet: a console opens on
/// [`Ready::config`] before [`Ready::play`] starts the clock. Dropping it stops the sandbox.
pub struct Ready {
    spec: DrillSpec,
    sb: Sandbox,
    config: Config,
    config_path: PathBuf,
}

impl Ready {
    /// Starts the drill's sandbox (filled, replicas synced, spares added) and writes its
    /// config file.
    ///
    /// # Errors
    /// The sandbox could not be started or prepared.
    pub async fn start(spec: DrillSpec, opts: &Options) -> Result<Self, DrillError> {
        let sb = start_sandbox(&spec, opts).await?;
        let config_path = sb.write_config().map_err(sandbox_error)?;
        let config = sb.config();
        Ok(Self {
            spec,
            sb,
            config,
            config_path,
        })
    }

    /// The sandbox's config: its nodes, and the audit log the trainee's actions go to (the
    /// runner reads what they did from it).
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The sandbox's directory.
    #[must_use]
    pub fn dir(&self) -> &std::path::Path {
        self.sb.dir()
    }

    /// Plays the drill to its end; returns the report (also sent as `DrillFinished`). The
    /// sandbox is stopped before it returns.
    ///
    /// # Errors
    /// The report could not be written.
    pub async fn play(
        self,
        opts: &Options,
        mut emit: impl FnMut(RunnerEvent),
    ) -> Result<Report, DrillError> {
        let Self {
            spec,
            sb,
            config,
            config_path,
        } = self;
        play(spec, sb, config, config_path, opts, &mut emit).await
    }
}

async fn play(
    spec: DrillSpec,
    sb: Sandbox,
    config: Config,
    config_path: PathBuf,
    opts: &Options,
    emit: &mut impl FnMut(RunnerEvent),
) -> Result<Report, DrillError> {
    let timeouts = Timeouts::from(&config.console);
    let tail = Tail::from_end(&config.console.audit_log);
    let nodes: Vec<_> = sb
        .nodes()
        .iter()
        .map(crate::sandbox::ServerProcess::node)
        .collect();
    let drill = Drill::new(spec.clone(), opts.time_limit);
    let rate = spec.sandbox.writer_rate;
    let writer = (rate > 0).then(|| match spec.sandbox.cluster_shape() {
        Some(shape) => {
            Writer::spawn_cluster(nodes, timeouts, rate, &cluster::first_shard_tag(shape))
        }
        None => Writer::spawn(nodes, timeouts, rate),
    });
    emit(RunnerEvent::DrillStarted {
        drill: spec.id.clone(),
        title: spec.title.clone(),
        incident: spec.incident.clone(),
        config: config_path,
        nodes: sb.nodes().iter().map(|n| n.name.clone()).collect(),
        time_limit: opts.time_limit.unwrap_or(spec.time_limit),
        steps: spec.steps.len(),
    });
    let mut play = Play {
        monitor: Monitor::new(&config, SystemTime::now()),
        sb,
        config,
        timeouts,
        tail,
        injector: Injector::default(),
        writer,
        drill,
        hint_asks: Arc::clone(&opts.hint_asks),
        hints_given: opts.hint_asks.load(Ordering::SeqCst),
        missing: (0, Vec::new()),
    };
    play.until_over(opts.time_limit.unwrap_or(spec.time_limit), emit)
        .await;
    let Play {
        mut sb,
        config,
        mut writer,
        drill,
        ..
    } = play;
    let final_check = match &mut writer {
        Some(w) => {
            w.hold(Duration::from_secs(2)).await;
            let topo = final_topology(&config).await;
            check_writes(&config, timeouts, &topo, w).await
        }
        None => Some(WriteCheck::default()),
    };
    if let Some(w) = &mut writer {
        w.stop();
    }
    sb.stop();
    let mut report = drill.report(final_check);
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if let Err(e) = report.write_into(&opts.reports_dir, stamp) {
        return Err(DrillError {
            message: format!(
                "cannot write the drill report into '{}': {e}",
                opts.reports_dir.display()
            ),
            at: None,
            hint: "check that redops's data directory ($XDG_DATA_HOME/redops) is writable"
                .to_string(),
        });
    }
    emit(RunnerEvent::DrillFinished {
        report: Box::new(report.clone()),
    });
    Ok(report)
}

/// Everything one drill's loop works with.
struct Play {
    sb: Sandbox,
    config: Config,
    timeouts: Timeouts,
    tail: Tail,
    monitor: Monitor,
    injector: Injector,
    writer: Option<Writer>,
    drill: Drill,
    hint_asks: Arc<AtomicUsize>,
    hints_given: usize,
    /// The last `Waiting` sent.
    missing: (usize, Vec<String>),
}

impl Play {
    /// Polls and feeds the engine until the drill is over (bounded: the engine ends it at its
    /// time limit; a backstop a minute later ends it regardless).
    async fn until_over(&mut self, time_limit: Duration, emit: &mut impl FnMut(RunnerEvent)) {
        let poll = self.config.console.poll_interval;
        let backstop = std::time::Instant::now() + time_limit + Duration::from_secs(60);
        while self.drill.ending().is_none() {
            if std::time::Instant::now() > backstop {
                let why = "the drill ran past its time limit".to_string();
                let _ = self.drill.abort(why, SystemTime::now());
                break;
            }
            self.tick(emit).await;
            self.injector.thaw_due(&self.sb);
            let now_missing = (self.drill.current_step(), self.drill.waiting_for().to_vec());
            if self.drill.ending().is_none()
                && !now_missing.1.is_empty()
                && now_missing != self.missing
            {
                self.missing = now_missing.clone();
                emit(RunnerEvent::Waiting {
                    step: now_missing.0,
                    missing: now_missing.1,
                });
            }
            if self.drill.ending().is_none() {
                tokio::time::sleep(poll).await;
            }
        }
    }

    /// One poll: the topology, the audit log, the writes; the engine; its faults.
    async fn tick(&mut self, emit: &mut impl FnMut(RunnerEvent)) {
        self.monitor.observe_once(&self.config).await;
        let now = SystemTime::now();
        self.monitor.cycle(now, |_| Lookup::Found(None));
        for rec in self.tail.poll().unwrap_or_default() {
            if let Some(a) = activity(&rec) {
                self.drill.action(a, recorded_at(&rec, now));
            }
        }
        if let Some(w) = &self.writer {
            let topo = self.monitor.topology();
            if let Some(check) = check_writes(&self.config, self.timeouts, topo, w).await {
                self.drill.writes(check);
            }
        }
        let mut events = self.drill.update(self.monitor.topology(), now);
        let asked = self.hint_asks.load(Ordering::SeqCst);
        while self.hints_given < asked {
            self.hints_given += 1;
            events.extend(self.drill.ask_hint());
        }
        for e in events {
            match e {
                DrillEvent::FaultDue { step, fault } => {
                    let done = self
                        .injector
                        .inject(&mut self.sb, &fault, self.writer.as_ref())
                        .await;
                    self.drill.fault_done(SystemTime::now());
                    match done {
                        Ok(()) => emit(RunnerEvent::FaultInjected {
                            step,
                            what: fault.to_string(),
                            fault,
                        }),
                        Err(why) => {
                            let why = format!("the fault '{fault}' could not be injected: {why}");
                            let _ = self.drill.abort(why, SystemTime::now());
                        }
                    }
                }
                other => {
                    if let Some(ev) = forward(other) {
                        emit(ev);
                    }
                }
            }
        }
    }
}

/// The engine's events a front-end sees as they are (faults come as `fault_injected` once
/// done; the end comes as `drill_finished` with the report).
fn forward(e: DrillEvent) -> Option<RunnerEvent> {
    match e {
        DrillEvent::FaultDue { .. } | DrillEvent::Over { .. } => None,
        other => Some(RunnerEvent::Step(other)),
    }
}

async fn start_sandbox(spec: &DrillSpec, opts: &Options) -> Result<Sandbox, DrillError> {
    if let Some(shape) = spec.sandbox.cluster_shape() {
        let sb_spec = Spec {
            server_bin: opts.server_bin.clone(),
            extra_args: persistence_args(spec.sandbox.persistence),
            group: "drill".to_string(),
            ..Spec::default()
        };
        return Sandbox::start_cluster(shape, &sb_spec)
            .await
            .map_err(sandbox_error);
    }
    let needs_protected = spec
        .steps
        .iter()
        .flat_map(|s| &s.faults)
        .any(|f| matches!(f.fault, Fault::BgsaveFails { .. }));
    let sb_spec = Spec {
        replicas: spec.sandbox.replicas,
        chain: spec.sandbox.chain,
        server_bin: opts.server_bin.clone(),
        extra_args: persistence_args(spec.sandbox.persistence),
        primary_args: spec
            .sandbox
            .primary_persistence
            .map(persistence_args)
            .unwrap_or_default(),
        protected_configs: needs_protected || spec.sandbox.protected_configs,
        group: "drill".to_string(),
        sentinels: spec.sandbox.sentinels,
        node_args: spec
            .sandbox
            .never_promote
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    vec!["--replica-priority".to_string(), "0".to_string()],
                )
            })
            .collect(),
        ..Spec::default()
    };
    let mut sb = Sandbox::start(&sb_spec).await.map_err(sandbox_error)?;
    if spec.sandbox.data_keys > 0 {
        let primary = sb.nodes()[0].node();
        faults::fill(&primary, spec.sandbox.data_keys)
            .await
            .map_err(|e| DrillError {
                message: format!("cannot fill the sandbox with data: {e}"),
                at: None,
                hint: "see the servers' logs in the sandbox directory".to_string(),
            })?;
        for n in sb.nodes().iter().skip(1) {
            sb.wait_synced(&n.name, crate::sandbox::READY_TIMEOUT)
                .await
                .map_err(sandbox_error)?;
        }
        // Each node with snapshots has one of the starting data on disk, as a server that has
        // run a while would: a node restarted "with its old data" comes back with it, not
        // empty (a replica's full sync leaves no file: diskless by default since 7.0).
        let primary_persistence = spec
            .sandbox
            .primary_persistence
            .unwrap_or(spec.sandbox.persistence);
        for (i, n) in sb.nodes().iter().enumerate() {
            let persistence = if i == 0 {
                primary_persistence
            } else {
                spec.sandbox.persistence
            };
            if persistence != Persistence::None {
                faults::save(&n.node()).await.map_err(|e| DrillError {
                    message: format!("cannot save the sandbox's starting data: {e}"),
                    at: None,
                    hint: "see the servers' logs in the sandbox directory".to_string(),
                })?;
            }
        }
    }
    // Spares last: standalone and empty.
    let names = super::load::node_names(spec);
    for name in names.iter().skip(sb.nodes().len()) {
        sb.add_node(name, &[]).await.map_err(sandbox_error)?;
    }
    Ok(sb)
}

/// The servers' arguments for a persistence setting, after the sandbox's own save points:
/// the first `save` resets them, later ones add (each point its own arguments, as the sandbox
/// does for 6.2's sake).
fn persistence_args(p: Persistence) -> Vec<String> {
    let args: &[&str] = match p {
        Persistence::Rdb => &["--save", "3600", "1", "--save", "300", "100"],
        Persistence::Aof => &["--appendonly", "yes"],
        Persistence::None => &["--save", ""],
    };
    args.iter().map(ToString::to_string).collect()
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(sandbox_error)`
fn sandbox_error(e: crate::sandbox::SandboxError) -> DrillError {
    DrillError {
        message: format!("cannot start the drill's sandbox: {}", e.message()),
        at: None,
        hint: e
            .hint()
            .unwrap_or("see the servers' logs in the sandbox directory")
            .to_string(),
    }
}

/// When a record was written (its `ts`), not later than `now` (the file is not trusted).
fn recorded_at(rec: &Record, now: SystemTime) -> SystemTime {
    Duration::try_from_secs_f64(rec.ts)
        .ok()
        .map(|d| SystemTime::UNIX_EPOCH + d)
        .filter(|at| *at <= now)
        .unwrap_or(now)
}

/// What the trainee did, from one audit record (others say nothing the report counts).
fn activity(rec: &Record) -> Option<Activity> {
    let action = rec.action.clone();
    if rec.action == crate::audit::ACKNOWLEDGE {
        return Some(Activity::Noticed {
            what: rec.detail.clone().unwrap_or_default(),
        });
    }
    match rec.event.as_str() {
        RUN_STARTED => Some(Activity::Started {
            action,
            summary: rec.detail.clone().unwrap_or_default(),
        }),
        "PrecheckFailed" => Some(Activity::Refused {
            action,
            reason: rec.detail.clone().unwrap_or_default(),
        }),
        "PrecheckPassed" => rec
            .reason
            .clone()
            .map(|reason| Activity::Overridden { action, reason }),
        _ => None,
    }
}

/// The writes check against the group's only live primary (none when there is not exactly one).
async fn check_writes(
    config: &Config,
    timeouts: Timeouts,
    topology: &crate::topology::Topology,
    w: &Writer,
) -> Option<WriteCheck> {
    let group = topology.groups.first()?;
    let name = if group.cluster.is_some() {
        cluster::primary_of_keys(group, w.prefix())?
    } else {
        let primaries = live_primaries(group);
        let [p] = primaries.as_slice() else {
            return None;
        };
        p.name.clone()
    };
    let node = config
        .groups
        .first()?
        .nodes
        .iter()
        .find(|n| n.name == name)?;
    writer::check_keys(node, timeouts, &w.acked(), w.prefix())
        .await
        .ok()
}

/// One fresh poll, for the final check.
async fn final_topology(config: &Config) -> crate::topology::Topology {
    let mut m = Monitor::one_shot(config, SystemTime::now());
    m.observe_once(config).await;
    m.cycle(SystemTime::now(), |_| Lookup::Found(None));
    m.into_topology()
}

mod cluster;

#[cfg(test)]
mod tests {
    use super::{activity, recorded_at, Activity};
    use crate::audit::Record;
    use std::time::{Duration, SystemTime};

    fn rec(event: &str, detail: Option<&str>, reason: Option<&str>) -> Record {
        Record {
            action: "promote".into(),
            event: event.into(),
            detail: detail.map(Into::into),
            reason: reason.map(Into::into),
            ts: 100.5,
            ..Record::default()
        }
    }

    #[test]
    fn audit_records_become_what_the_trainee_did() {
        assert_eq!(
            activity(&rec("RunStarted", Some("promote n3 in place of n1"), None)),
            Some(Activity::Started {
                action: "promote".into(),
                summary: "promote n3 in place of n1".into()
            })
        );
        assert_eq!(
            activity(&rec("PrecheckFailed", Some("n1 is up"), None)),
            Some(Activity::Refused {
                action: "promote".into(),
                reason: "n1 is up".into()
            })
        );
        assert_eq!(
            activity(&rec("PrecheckPassed", None, Some("closest"))),
            Some(Activity::Overridden {
                action: "promote".into(),
                reason: "closest".into()
            })
        );
        // The console's acknowledge key, whatever the record's event.
        let mut seen = rec("RunFinished", Some("seen: primary_down"), None);
        seen.action = crate::audit::ACKNOWLEDGE.into();
        assert_eq!(
            activity(&seen),
            Some(Activity::Noticed {
                what: "seen: primary_down".into()
            })
        );
        // Passed with nothing overridden, and every other record: nothing the report counts.
        assert_eq!(activity(&rec("PrecheckPassed", None, None)), None);
        assert_eq!(activity(&rec("StepStarted", None, None)), None);
    }

    #[test]
    fn a_record_time_from_the_future_or_out_of_range_is_not_believed() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(200);
        let at = recorded_at(&rec("RunStarted", None, None), now);
        assert_eq!(at, SystemTime::UNIX_EPOCH + Duration::from_millis(100_500));
        let mut future = rec("RunStarted", None, None);
        future.ts = 1e12;
        assert_eq!(recorded_at(&future, now), now);
        future.ts = f64::NAN;
        assert_eq!(recorded_at(&future, now), now);
        future.ts = -5.0;
        assert_eq!(recorded_at(&future, now), now);
    }
}
