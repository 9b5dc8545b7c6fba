//! A simulated replication group implementing [`RedisOps`], for engine tests (here and in
//! other modules' tests): roles, replids, offsets, write pauses, BGSAVE children and FAILOVER,
//! with failures injected per command. It records every command sent and flags any instant
//! at which two primaries accept writes.
//!
//! It models only what the engine's decisions depend on; behaviour that needs a real server
//! to be believed is tested against real servers (`tests/servers/ops_real.rs`).

use std::sync::Mutex;
use std::time::Duration;

use crate::config::Addr;
use crate::info::Info;
use crate::observe::NodeError;

mod server;

use super::plan::PlanNode;
use super::redis_ops::{Command, RedisOps, Reply};

/// How a BGSAVE child of the fake ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveEnd {
    /// Status ok, fresh `rdb_last_save_time`.
    Ok,
    /// `rdb_last_bgsave_status:err`.
    Fail,
    /// Status ok but no file written (a diskless transfer): last save time unchanged.
    NoFile,
}

/// A running FAILOVER on the fake's primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverEnd {
    /// Completes after the given number of INFO reads.
    Complete,
    /// The server gives up (target never caught up) and stays primary.
    Timeout,
    /// Never finishes by itself (target frozen after the handshake).
    Stuck,
}

/// One simulated server.
#[derive(Debug, Clone)]
pub struct FakeNode {
    pub name: String,
    pub addr: Addr,
    pub primary: bool,
    pub master: Option<Addr>,
    pub link_up: bool,
    pub offset: u64,
    pub replid: String,
    pub replid2: Option<String>,
    pub second_offset: i64,
    /// Write pause expiry, in fake milliseconds.
    pub paused_until: Option<u64>,
    /// Answers nothing (SIGSTOP, blackhole).
    pub frozen: bool,
    /// A frozen node that wakes at this fake time and first runs the commands that reached it
    /// while frozen (they sat in its socket), with the client name that sent them.
    pub wakes: Option<(u64, Vec<(Command, String)>)>,
    /// Refuses connections (killed).
    pub down: bool,
    /// A replica that never applies anything more.
    pub lagging: bool,
    pub version: String,
    pub config_file: String,
    /// INFO reads left before the running BGSAVE child ends (0: none runs).
    pub save_polls: u32,
    pub save_end: SaveEnd,
    pub last_save: i64,
    pub last_save_ok: bool,
    pub saves: u64,
    /// INFO reads left before the running AOF rewrite ends.
    pub aof_polls: u32,
    pub save_scheduled: bool,
    pub failover: Option<(Addr, u32, FailoverEnd)>,
    /// How the next FAILOVER ends, and after how many INFO reads.
    pub next_failover: (FailoverEnd, u32),
    pub sync_full: u64,
    /// Extra `CLIENT LIST` lines.
    pub clients: Vec<String>,
    /// Offset added per command while this node is a writable primary.
    pub write_rate: u64,
    /// `CONFIG GET save` (`""`: no save points).
    pub save: String,
    pub aof_enabled: bool,
    /// `dbfilename`, and whether `CONFIG SET dbfilename` is refused (a protected config, 7.0+).
    pub dbfilename: String,
    pub dbfilename_protected: bool,
    /// The file name each BGSAVE wrote, in order.
    pub saved_to: Vec<String>,
}

impl FakeNode {
    /// A healthy node on 127.0.0.1:`port`.
    #[must_use]
    pub fn new(name: &str, port: u16) -> Self {
        Self {
            name: name.to_string(),
            addr: Addr {
                host: "127.0.0.1".to_string(),
                port,
            },
            primary: false,
            master: None,
            link_up: false,
            offset: 1000,
            replid: "a".repeat(40),
            replid2: None,
            second_offset: -1,
            paused_until: None,
            frozen: false,
            wakes: None,
            down: false,
            lagging: false,
            version: "7.0.15".to_string(),
            config_file: String::new(),
            save_polls: 0,
            save_end: SaveEnd::Ok,
            last_save: BASE_SECS - 100,
            last_save_ok: true,
            saves: 0,
            aof_polls: 0,
            save_scheduled: false,
            failover: None,
            next_failover: (FailoverEnd::Complete, 3),
            sync_full: 0,
            clients: Vec::new(),
            write_rate: 7,
            save: "3600 1".to_string(),
            aof_enabled: false,
            dbfilename: "dump.rdb".to_string(),
            dbfilename_protected: false,
            saved_to: Vec::new(),
        }
    }
}

/// An injected failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub node: String,
    /// Applies to commands whose text starts with this.
    pub prefix: String,
    /// Matching commands to let through first.
    pub skip: u32,
    /// Active only once a command starting with this (`node: COMMAND`) has been sent.
    pub after: Option<String>,
    pub effect: Effect,
}

/// What an injected failure does.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The server answers this error; nothing is executed.
    Error(String),
    /// The node freezes from now on.
    Freeze,
    /// The node freezes for this many fake milliseconds; the command is not answered but runs
    /// when the node wakes (a `SIGSTOPped` server with the command in its socket).
    Stall(u64),
    /// The node dies from now on.
    Kill,
}

/// The simulated world.
#[derive(Debug, Default)]
pub struct World {
    pub nodes: Vec<FakeNode>,
    /// Every command that is not an INFO read: `node: COMMAND`.
    pub log: Vec<String>,
    pub rules: Vec<Rule>,
    /// Moments when two primaries accepted writes.
    pub violations: Vec<String>,
    /// Fake milliseconds: one per command.
    pub clock: u64,
    /// The node clients write to (the first primary); a write reaches it only while it is a
    /// writable primary (elsewhere clients get READONLY or wait).
    pub clients_on: String,
    ids: u32,
}

const BASE_SECS: i64 = 1_800_000_000;

/// The fake. Lock-protected so the engine can share it across awaits.
#[derive(Debug)]
pub struct FakeOps {
    pub world: Mutex<World>,
    name: String,
}

impl FakeOps {
    /// A fake group: `nodes[0]` primary, the others its replicas, all in sync.
    #[must_use]
    pub fn group(names: &[&str]) -> Self {
        let mut nodes: Vec<FakeNode> = names
            .iter()
            .enumerate()
            .map(|(i, n)| FakeNode::new(n, 7000 + u16::try_from(i).unwrap_or(0)))
            .collect();
        if let Some((p, rest)) = nodes.split_first_mut() {
            p.primary = true;
            for r in rest {
                r.master = Some(p.addr.clone());
                r.link_up = true;
            }
        }
        Self {
            world: Mutex::new(World {
                clients_on: names.first().map(ToString::to_string).unwrap_or_default(),
                nodes,
                ..World::default()
            }),
            name: "redops-action:test@host:1".to_string(),
        }
    }

    /// Runs `f` on the world.
    pub fn with<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let mut w = self
            .world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut w)
    }

    /// Mutates one node.
    pub fn node(&self, name: &str, f: impl FnOnce(&mut FakeNode)) {
        self.with(|w| {
            if let Some(n) = w.nodes.iter_mut().find(|n| n.name == name) {
                f(n);
            }
        });
    }

    /// Adds an injected failure.
    pub fn inject(&self, node: &str, prefix: &str, skip: u32, effect: Effect) {
        self.with(|w| {
            w.rules.push(Rule {
                node: node.to_string(),
                prefix: prefix.to_string(),
                skip,
                after: None,
                effect,
            });
        });
    }

    /// Adds an injected failure that is active only after `after` (`node: COMMAND` prefix)
    /// has been sent.
    pub fn inject_after(&self, node: &str, prefix: &str, after: &str, effect: Effect) {
        self.with(|w| {
            w.rules.push(Rule {
                node: node.to_string(),
                prefix: prefix.to_string(),
                skip: 0,
                after: Some(after.to_string()),
                effect,
            });
        });
    }

    /// The command log.
    #[must_use]
    pub fn log(&self) -> Vec<String> {
        self.with(|w| w.log.clone())
    }
}

impl World {
    fn idx(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    fn by_addr(&self, a: &Addr) -> Option<usize> {
        self.nodes.iter().position(|n| n.addr == *a)
    }

    fn paused(&self, i: usize) -> bool {
        self.nodes[i].paused_until.is_some_and(|t| t > self.clock)
            || self.nodes[i].failover.is_some()
    }

    fn writable(&self, i: usize) -> bool {
        let n = &self.nodes[i];
        n.primary && !n.down && !self.paused(i)
    }

    /// Advances the clock: primaries take writes, replicas apply them.
    fn tick(&mut self, what: &str) {
        self.clock += 1;
        for i in 0..self.nodes.len() {
            let due = matches!(self.nodes[i].wakes, Some((at, _)) if at <= self.clock);
            if let Some((_, queued)) = due.then(|| self.nodes[i].wakes.take()).flatten() {
                self.nodes[i].frozen = false;
                for (cmd, own) in queued {
                    self.log
                        .push(format!("{}: (woke) {cmd}", self.nodes[i].name));
                    let _ = self.exec(i, &cmd, &own);
                }
            }
        }
        if let Some(i) = self.idx(&self.clients_on.clone()) {
            if self.writable(i) && !self.nodes[i].frozen {
                self.nodes[i].offset += self.nodes[i].write_rate;
            }
        }
        for _ in 0..4 {
            for i in 0..self.nodes.len() {
                let Some(m) = self.nodes[i].master.clone() else {
                    continue;
                };
                let Some(mi) = self.by_addr(&m) else { continue };
                let master_ok = !self.nodes[mi].down && !self.nodes[mi].frozen;
                let me = &self.nodes[i];
                if me.down || me.frozen {
                    continue;
                }
                let (mo, mid) = (self.nodes[mi].offset, self.nodes[mi].replid.clone());
                let n = &mut self.nodes[i];
                n.link_up = master_ok;
                if master_ok && !n.lagging {
                    n.offset = mo;
                    n.replid = mid;
                }
            }
        }
        let writable: Vec<String> = (0..self.nodes.len())
            .filter(|&i| self.writable(i))
            .map(|i| self.nodes[i].name.clone())
            .collect();
        if writable.len() > 1 {
            self.violations.push(format!(
                "after {what}: writable primaries {}",
                writable.join(", ")
            ));
        }
    }

    fn new_replid(&mut self) -> String {
        self.ids += 1;
        format!("{:040}", self.ids)
    }

    /// Sends one command: injected failures first, then the node's health, then the effect.
    ///
    /// # Errors
    ///
    /// What the server would answer or how the connection would fail: an injected failure,
    /// a node down or frozen, or the server's error reply.
    pub fn send(&mut self, name: &str, cmd: &Command, own: &str) -> Result<Reply, NodeError> {
        let text = cmd.to_string();
        let Some(i) = self.idx(name) else {
            return Err(NodeError::Other(format!("unknown fake node '{name}'")));
        };
        if !matches!(cmd, Command::Info(_)) {
            self.log.push(format!("{name}: {text}"));
        }
        let log = &self.log;
        let rule = self
            .rules
            .iter()
            .position(|r| {
                r.node == name
                    && text.starts_with(&r.prefix)
                    && r.after
                        .as_ref()
                        .is_none_or(|a| log.iter().any(|l| l.starts_with(a.as_str())))
            })
            .and_then(|k| {
                if self.rules[k].skip > 0 {
                    self.rules[k].skip -= 1;
                    None
                } else {
                    Some(self.rules.remove(k).effect)
                }
            });
        match rule {
            Some(Effect::Error(e)) => {
                self.tick(&text);
                return Err(NodeError::Reply(e));
            }
            Some(Effect::Freeze) => self.nodes[i].frozen = true,
            Some(Effect::Stall(ms)) => {
                self.nodes[i].frozen = true;
                self.nodes[i].wakes = Some((self.clock + ms, Vec::new()));
            }
            Some(Effect::Kill) => self.nodes[i].down = true,
            None => {}
        }
        let result = if self.nodes[i].down {
            Err(NodeError::Refused("connection refused".to_string()))
        } else if self.nodes[i].frozen {
            if let Some((_, queued)) = &mut self.nodes[i].wakes {
                queued.push((cmd.clone(), own.to_string()));
            }
            Err(NodeError::Unresponsive(Duration::from_secs(1)))
        } else {
            self.exec(i, cmd, own)
        };
        self.tick(&format!("{name}: {text}"));
        result
    }
}

impl RedisOps for FakeOps {
    async fn send(&self, node: &PlanNode, cmd: &Command) -> Result<Reply, NodeError> {
        let r = self.with(|w| w.send(&node.name, cmd, &self.name));
        tokio::task::yield_now().await;
        r
    }

    fn client_name(&self) -> &str {
        &self.name
    }
}

impl FakeOps {
    /// A config (one group, named `group`) and a topology as a poll of the fake would show
    /// them, built by hand so plans can be made without `topology::build`.
    #[must_use]
    pub fn config_and_topology(
        &self,
        group: &str,
    ) -> (crate::config::Config, crate::topology::Topology) {
        use crate::config::{Config, Console, Group, Node};
        use crate::observe::{NodeId, NodeState};
        use crate::topology::{GroupTopology, LagLevel, Link, NodeView, Role, Topology, Upstream};
        let infos: Vec<(FakeNode, Option<Info>)> = self.with(|w| {
            (0..w.nodes.len())
                .map(|i| {
                    let n = w.nodes[i].clone();
                    let info = (!n.down && !n.frozen).then(|| w.info(i));
                    (n, info)
                })
                .collect()
        });
        let nodes: Vec<Node> = infos
            .iter()
            .map(|(n, _)| Node {
                name: n.name.clone(),
                addr: n.addr.clone(),
                username: None,
                password: None,
                tls: None,
            })
            .collect();
        let config = Config {
            console: Console::default(),
            groups: vec![Group::new(group.to_string(), nodes)],
            source: None,
        };
        let primary_offset = infos.iter().find(|(n, _)| n.primary).map(|(n, _)| n.offset);
        let views = infos
            .iter()
            .enumerate()
            .map(|(k, (n, info))| {
                let mut v = NodeView::new(
                    Some(NodeId { group: 0, node: k }),
                    &n.name,
                    &n.addr.to_string(),
                );
                v.rtt = Some(Duration::from_millis(1));
                match info {
                    None => {
                        v.state = if n.down {
                            NodeState::Down
                        } else {
                            NodeState::Unresponsive
                        };
                        v.error = Some(if n.down {
                            NodeError::Refused("connection refused".into())
                        } else {
                            NodeError::Unresponsive(Duration::from_secs(1))
                        });
                    }
                    Some(i) => {
                        v.state = NodeState::Up;
                        v.role = if n.primary {
                            Role::Primary
                        } else {
                            Role::Replica
                        };
                        v.replid = Some(n.replid.clone());
                        v.version = Some(n.version.clone());
                        v.offset = Some(n.offset);
                        if let Some(m) = &n.master {
                            v.upstream = Some(Upstream {
                                addr: m.to_string(),
                                index: infos.iter().position(|(o, _)| &o.addr == m),
                            });
                            v.link = Some(if n.link_up {
                                Link::Up
                            } else {
                                Link::Down {
                                    since: Some(Duration::from_secs(42)),
                                }
                            });
                            v.lag_bytes = primary_offset.map(|p| p.saturating_sub(n.offset));
                            v.lag_level = LagLevel::Ok;
                            v.depth = 1;
                        }
                        v.info = Some(std::sync::Arc::new(i.clone()));
                    }
                }
                v
            })
            .collect();
        let topology = Topology {
            at: None,
            groups: vec![GroupTopology {
                index: 0,
                name: group.to_string(),
                nodes: views,
                anomalies: Vec::new(),
                sentinel: None,
                cluster: None,
            }],
        };
        (config, topology)
    }
}
