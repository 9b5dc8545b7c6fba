//! A role command that went unanswered: the old primary's `REPLICAOF <target>` or the target's
//! `REPLICAOF NO ONE` timed out (a frozen process, a proxy holding the command, a black-holed
//! socket). A command that timed out is not a command that did not happen: it may sit in a
//! socket or a proxy and run when the node answers again.
//!
//! Both commands are idempotent in the state the run wants (a second `REPLICAOF NO ONE` on a
//! primary, or `REPLICAOF T` on a replica of T, changes nothing), so the run drives *forward*:
//! it watches the node for a bounded time (two command timeouts); once the node answers, it
//! closes this run's other connections to it (`CLIENT KILL ID`, so a held copy can no longer
//! arrive later and undo a rollback), reads the role back, and sends the command once more if
//! it had not run. A node silent through the watch is reported as "may still run it", and the
//! rollback keeps the group in a state where that late command cannot make a second writable
//! primary (`rollback.rs`).

use tokio::time::Instant;

use crate::info::Info;

use super::super::redis_ops::{Command, InfoSection, RedisOps};
use super::steps::WAIT_POLL;
use super::Run;

/// How many command timeouts a silent node is watched for.
pub const WATCH_TIMEOUTS: u32 = 2;

/// A role command that did not reach its end state.
#[derive(Debug)]
pub(super) struct RoleFailure {
    pub error: String,
    /// The node never answered after the command was sent: it may still run it.
    pub pending: bool,
}

impl<O: RedisOps> Run<'_, O> {
    /// Sends `cmd` to `node` and makes sure it ran: `reached` says, from the node's INFO,
    /// whether the node is in the state `cmd` asks for. `Ok` carries a note when the command
    /// went unanswered first (empty otherwise).
    pub(super) async fn role_command(
        &mut self,
        node: usize,
        cmd: Command,
        reached: impl Fn(&Info) -> bool,
    ) -> Result<String, RoleFailure> {
        let error = match self.try_ok(node, cmd.clone()).await {
            Ok(()) => return Ok(String::new()),
            Err((error, false)) => {
                return Err(RoleFailure {
                    error,
                    pending: false,
                })
            }
            Err((error, true)) => error,
        };
        let name = self.plan.name(node).to_string();
        let watch = self.plan.budgets.command * WATCH_TIMEOUTS;
        let deadline = Instant::now() + watch;
        let info = loop {
            match self.info(node, InfoSection::Replication).await {
                Ok(i) => break i,
                Err(_) if Instant::now() < deadline => tokio::time::sleep(WAIT_POLL).await,
                Err(_) => {
                    return Err(RoleFailure {
                        error: format!(
                            "{error}; it stayed silent for {} more",
                            crate::config::format_duration(watch)
                        ),
                        pending: true,
                    })
                }
            }
        };
        let fence = self.fence(node).await;
        if reached(&info) {
            return Ok(format!("{name} answered late: it had run {cmd}{fence}"));
        }
        match self.try_ok(node, cmd.clone()).await {
            Ok(()) => Ok(format!(
                "{name} answered late without having run it: {cmd} sent again and done{fence}"
            )),
            Err((error, pending)) => Err(RoleFailure { error, pending }),
        }
    }

    /// Closes this run's other connections to `node` (the one a command went unanswered on),
    /// so that a copy held in a proxy or a socket cannot reach the server later. The current
    /// connection is spared by `CLIENT KILL`'s default `SKIPME yes`. Returns a note for the
    /// step's detail ("" when done).
    async fn fence(&mut self, node: usize) -> String {
        let own = self.ops.client_name().to_string();
        let list = match self.send(node, Command::ClientList).await {
            Ok(r) => r.text().unwrap_or_default().to_string(),
            Err(e) => {
                let w = format!(
                    "{}: this run's stale connection could not be listed ({e}): a held copy of the command \
                     may still arrive",
                    self.plan.name(node)
                );
                self.warnings.push(w.clone());
                return format!("; {w}");
            }
        };
        for id in own_connection_ids(&list, &own) {
            if let Err(e) = self.send(node, Command::ClientKill { id }).await {
                let w = format!(
                    "{}: this run's stale connection {id} could not be closed ({e})",
                    self.plan.name(node)
                );
                self.warnings.push(w.clone());
                return format!("; {w}");
            }
        }
        String::new()
    }
}

/// The `id=` of every `CLIENT LIST` line whose `name=` is exactly `own`.
fn own_connection_ids(list: &str, own: &str) -> Vec<u64> {
    list.lines()
        .filter(|l| l.split(' ').any(|f| f.strip_prefix("name=") == Some(own)))
        .filter_map(|l| {
            l.split(' ')
                .find_map(|f| f.strip_prefix("id="))
                .and_then(|v| v.parse().ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::own_connection_ids;

    #[test]
    fn finds_only_this_runs_connections() {
        let list = "id=7 addr=127.0.0.1:1 name=redops-action:me@h:1 age=3\n\
                    id=8 addr=127.0.0.1:2 name=redops-action:me@h:12 age=3\n\
                    id=9 addr=127.0.0.1:3 name=redops-action:me@h:1 age=0\n\
                    id=x addr=127.0.0.1:4 name=redops-action:me@h:1 age=0\n\
                    id=10 addr=127.0.0.1:5 name= age=0\n";
        assert_eq!(own_connection_ids(list, "redops-action:me@h:1"), vec![7, 9]);
    }
}
