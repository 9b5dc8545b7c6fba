//! What one simulated server does with a command: its INFO (children progress on each read),
//! promotion, `REPLICAOF`, FAILOVER, pauses, saves. The world's clock, injected failures and
//! the check for two writable primaries stay in `fake.rs`.

use crate::config::Addr;
use crate::info::{Info, InfoRole, ReplicaLine};
use crate::observe::NodeError;

use super::super::redis_ops::{Command, ConfigParam, Reply};
use super::{FailoverEnd, SaveEnd, World, BASE_SECS};

impl World {
    #[allow(clippy::field_reassign_with_default)] // ReplicaLine may gain fields.
    pub(super) fn info(&mut self, i: usize) -> Info {
        // Background children progress on each read of the node.
        let now_secs = BASE_SECS + i64::try_from(self.clock / 1000).unwrap_or(0);
        let n = &mut self.nodes[i];
        if n.aof_polls > 0 {
            n.aof_polls -= 1;
            if n.aof_polls == 0 && n.save_scheduled {
                n.save_scheduled = false;
                n.save_polls = 2;
                n.save_end = SaveEnd::Ok;
            }
        } else if n.save_polls > 0 {
            n.save_polls -= 1;
            if n.save_polls == 0 {
                n.saves += 1;
                match n.save_end {
                    SaveEnd::Ok => {
                        n.last_save = now_secs;
                        n.last_save_ok = true;
                    }
                    SaveEnd::Fail => n.last_save_ok = false,
                    SaveEnd::NoFile => {
                        n.last_save_ok = true;
                        n.save_end = SaveEnd::Ok;
                    }
                }
            }
        }
        if let Some((to, left, end)) = n.failover.clone() {
            if left > 0 {
                n.failover = Some((to, left - 1, end));
            } else {
                match end {
                    FailoverEnd::Complete => {
                        n.failover = None;
                        self.promote_by_failover(i, &to);
                    }
                    FailoverEnd::Timeout => n.failover = None,
                    FailoverEnd::Stuck => {}
                }
            }
        }
        let n = &self.nodes[i];
        let mut info = Info::default();
        info.server.version = Some(n.version.clone());
        info.server.mode = Some("standalone".to_string());
        info.server.tcp_port = Some(n.addr.port);
        info.server.time_usec =
            Some(u64::try_from(BASE_SECS).unwrap_or(0) * 1_000_000 + self.clock * 1000);
        info.server.config_file = Some(n.config_file.clone());
        let r = &mut info.replication;
        r.replid = Some(n.replid.clone());
        r.replid2.clone_from(&n.replid2);
        r.second_offset = Some(n.second_offset);
        r.failover_state = Some(
            if n.failover.is_some() {
                "waiting-for-sync"
            } else {
                "no-failover"
            }
            .to_string(),
        );
        if n.primary {
            r.role = Some(InfoRole::Primary);
            r.offset = Some(n.offset);
        } else {
            r.role = Some(InfoRole::Replica);
            r.master_host = n.master.as_ref().map(|a| a.host.clone());
            r.master_port = n.master.as_ref().map(|a| a.port);
            r.link_up = Some(n.link_up);
            r.replica_offset = Some(n.offset);
            r.offset = Some(n.offset);
        }
        let lines: Vec<ReplicaLine> = self
            .nodes
            .iter()
            .filter(|o| o.master.as_ref() == Some(&n.addr) && !o.down)
            .enumerate()
            .map(|(k, o)| {
                // Built field by field: the parser may add fields to ReplicaLine.
                let mut l = ReplicaLine::default();
                l.index = u32::try_from(k).unwrap_or(0);
                l.ip.clone_from(&o.addr.host);
                l.port = o.addr.port;
                l.state = "online".to_string();
                l.offset = Some(o.offset);
                l.lag = Some(0);
                l
            })
            .collect();
        info.replication.connected_replicas = lines.len() as u64;
        info.replication.replicas = lines;
        let p = &mut info.persistence;
        p.bgsave_in_progress = n.save_polls > 0;
        p.aof_rewrite_in_progress = n.aof_polls > 0;
        p.last_save_time = Some(n.last_save);
        p.last_bgsave_ok = Some(n.last_save_ok);
        p.saves = Some(n.saves);
        p.aof_enabled = n.aof_enabled;
        info.stats.sync_full = Some(n.sync_full);
        info
    }

    fn promote_by_failover(&mut self, old: usize, to: &Addr) {
        let Some(t) = self.by_addr(to) else { return };
        self.promote(t);
        let taddr = self.nodes[t].addr.clone();
        let o = &mut self.nodes[old];
        o.primary = false;
        o.master = Some(taddr);
        o.link_up = true;
    }

    fn promote(&mut self, t: usize) {
        if self.nodes[t].primary {
            return;
        }
        let id = self.new_replid();
        let n = &mut self.nodes[t];
        n.primary = true;
        n.master = None;
        n.replid2 = Some(std::mem::replace(&mut n.replid, id));
        n.second_offset = i64::try_from(n.offset).unwrap_or(0) + 1;
    }

    fn replicaof(&mut self, i: usize, to: &Addr) {
        let Some(t) = self.by_addr(to) else {
            let n = &mut self.nodes[i];
            n.primary = false;
            n.master = Some(to.clone());
            n.link_up = false;
            return;
        };
        let (tid, tid2, tsec, toff) = {
            let tn = &self.nodes[t];
            (
                tn.replid.clone(),
                tn.replid2.clone(),
                tn.second_offset,
                tn.offset,
            )
        };
        let n = &mut self.nodes[i];
        let partial = (n.replid == tid && n.offset <= toff)
            || (tid2.as_deref() == Some(n.replid.as_str())
                && i64::try_from(n.offset).unwrap_or(0) < tsec);
        n.primary = false;
        n.master = Some(to.clone());
        n.link_up = true;
        if !partial {
            self.nodes[t].sync_full += 1;
        }
    }

    #[allow(clippy::too_many_lines)] // one arm per command the fake answers.
    pub(super) fn exec(&mut self, i: usize, cmd: &Command, own: &str) -> Result<Reply, NodeError> {
        let ok = || Ok(Reply::Text("OK".to_string()));
        match cmd {
            Command::Info(_) => Ok(Reply::Info(Box::new(self.info(i)))),
            Command::LastSave => Ok(Reply::Int(self.nodes[i].last_save)),
            Command::BgSave { schedule } => {
                let n = &mut self.nodes[i];
                if n.save_polls > 0 {
                    return Err(NodeError::Reply(
                        "ERR Background save already in progress".to_string(),
                    ));
                }
                if n.aof_polls > 0 {
                    if *schedule {
                        n.save_scheduled = true;
                        n.saved_to.push(n.dbfilename.clone());
                        return Ok(Reply::Text("Background saving scheduled".to_string()));
                    }
                    return Err(NodeError::Reply(
                        "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".to_string(),
                    ));
                }
                n.save_polls = 2;
                n.saved_to.push(n.dbfilename.clone());
                Ok(Reply::Text("Background saving started".to_string()))
            }
            Command::ReplicaOf(None) => {
                if self.nodes[i].failover.is_some() {
                    return Err(NodeError::Reply(
                        "ERR REPLICAOF not allowed while failing over.".to_string(),
                    ));
                }
                self.promote(i);
                ok()
            }
            Command::ReplicaOf(Some(a)) => {
                if self.nodes[i].failover.is_some() {
                    return Err(NodeError::Reply(
                        "ERR REPLICAOF not allowed while failing over.".to_string(),
                    ));
                }
                self.replicaof(i, a);
                ok()
            }
            Command::ClientPause { ms, .. } => {
                self.nodes[i].paused_until = Some(self.clock + ms);
                ok()
            }
            Command::ClientUnpause => {
                self.nodes[i].paused_until = None;
                ok()
            }
            Command::Failover { to, .. } => {
                let n = &self.nodes[i];
                if !n.primary {
                    return Err(NodeError::Reply(
                        "ERR FAILOVER is not valid when server is a replica.".to_string(),
                    ));
                }
                if n.failover.is_some() {
                    return Err(NodeError::Reply(
                        "ERR FAILOVER already in progress.".to_string(),
                    ));
                }
                let Some(t) = self.by_addr(to) else {
                    return Err(NodeError::Reply(
                        "ERR FAILOVER target HOST and PORT is not a replica.".to_string(),
                    ));
                };
                if self.nodes[t].master.as_ref() != Some(&self.nodes[i].addr) {
                    return Err(NodeError::Reply(
                        "ERR FAILOVER target HOST and PORT is not a replica.".to_string(),
                    ));
                }
                let (end, polls) = self.nodes[i].next_failover;
                self.nodes[i].failover = Some((to.clone(), polls, end));
                ok()
            }
            // The simulated nodes are data nodes: what one answers to a sentinel's command.
            Command::SentinelFailover { .. }
            | Command::SentinelMaster(_)
            | Command::SentinelKnows(_)
            | Command::SentinelCkquorum(_)
            | Command::SentinelReplicas(_) => Err(NodeError::Reply(
                "ERR unknown command 'SENTINEL'".to_string(),
            )),
            // The simulated group is not a cluster: what a standalone server answers.
            Command::ClusterFailover
            | Command::ClusterFailoverForced { .. }
            | Command::ClusterNodes => Err(NodeError::Reply(
                "ERR This instance has cluster support disabled".to_string(),
            )),
            // A data node is no sentinel.
            Command::SentinelReset(_) => Err(NodeError::Reply(
                "ERR unknown command 'SENTINEL'".to_string(),
            )),
            Command::FailoverAbort => {
                if self.nodes[i].failover.take().is_some() {
                    ok()
                } else {
                    Err(NodeError::Reply("ERR No failover in progress.".to_string()))
                }
            }
            Command::ConfigRewrite => {
                if self.nodes[i].config_file.is_empty() {
                    Err(NodeError::Reply(
                        "ERR The server is running without a config file".to_string(),
                    ))
                } else {
                    ok()
                }
            }
            // The fake has one connection per client: nothing stale to close.
            Command::ClientKill { .. } => Ok(Reply::Int(0)),
            Command::ConfigGet(p) => Ok(Reply::Text(match p {
                ConfigParam::Save => self.nodes[i].save.clone(),
                ConfigParam::DbFilename => self.nodes[i].dbfilename.clone(),
                // The simulated group replicates without passwords.
                ConfigParam::MasterAuth | ConfigParam::MasterUser => String::new(),
                ConfigParam::TlsReplication => "no".to_string(),
                ConfigParam::ReplDisklessSync => "yes".to_string(),
                ConfigParam::ReplDisklessSyncDelay => "0".to_string(),
                // Sentinel's steering is not simulated: every node has the default.
                ConfigParam::ReplicaPriority => "100".to_string(),
            })),
            Command::ConfigSet(p, v) => {
                let n = &mut self.nodes[i];
                match p {
                    ConfigParam::Save => n.save.clone_from(v),
                    ConfigParam::DbFilename if n.dbfilename_protected => {
                        return Err(NodeError::Reply(
                            "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config".to_string(),
                        ))
                    }
                    ConfigParam::DbFilename => n.dbfilename.clone_from(v),
                    ConfigParam::ReplicaPriority => {}
                    ConfigParam::MasterAuth
                    | ConfigParam::MasterUser
                    | ConfigParam::TlsReplication
                    | ConfigParam::ReplDisklessSync
                    | ConfigParam::ReplDisklessSyncDelay => {
                        return Err(NodeError::Reply(format!(
                            "ERR redops never sets {}",
                            p.as_str()
                        )))
                    }
                }
                ok()
            }
            Command::PermissionProbe(_) => Err(NodeError::Reply(
                "ERR refused for its arguments".to_string(),
            )),
            Command::ClientList => {
                let mut lines = vec![format!(
                    "id=1 addr=127.0.0.1:40000 laddr=x fd=8 name={own} age=0 idle=0"
                )];
                lines.extend(self.nodes[i].clients.iter().cloned());
                Ok(Reply::Text(lines.join("\n")))
            }
        }
    }
}
