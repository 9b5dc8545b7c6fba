//! Sandbox sentinels: `redis-server <conf> --sentinel` processes on free loopback ports, each
//! monitoring the sandbox's primary under the group's name with quorum 2 (or 1 for a single
//! sentinel) and short timeouts fit for tests (`down-after-milliseconds` 1 s, `failover-timeout`
//! 6 s). They are [`ServerProcess`]es like the data nodes: killed by PID on stop, on drop and
//! so on panic, watched by the same watchdog. Never prints.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use super::SandboxError;
use crate::node::{NodeClient, Timeouts};

/// `down-after-milliseconds` of sandbox sentinels.
pub const DOWN_AFTER_MS: u64 = 1000;
/// `failover-timeout` of sandbox sentinels.
pub const FAILOVER_TIMEOUT_MS: u64 = 6000;

/// What a sandbox sentinel monitors.
#[derive(Debug, Clone)]
pub struct Watch {
    pub master_name: String,
    pub primary_port: u16,
    pub quorum: usize,
    /// `sentinel auth-pass`, when the data nodes have a password.
    pub auth_pass: Option<String>,
}

/// A config word, quoted as `redis.conf` reads it.
fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' | '"' => {
                q.push('\\');
                q.push(c);
            }
            c if c.is_ascii_graphic() || c == ' ' => q.push(c),
            c => {
                let mut buf = [0; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(q, "\\x{b:02x}");
                }
            }
        }
    }
    q.push('"');
    q
}

impl Watch {
    /// The sentinel's config file (Sentinel rewrites it as it learns).
    #[must_use]
    pub fn conf_text(&self, port: u16, dir: &Path) -> String {
        let dir = dir.to_string_lossy();
        let name = quote(&self.master_name);
        let mut out = String::from("# Written by the redops sandbox; Sentinel rewrites it.\n");
        let _ = writeln!(out, "port {port}");
        let _ = writeln!(out, "bind 127.0.0.1");
        let _ = writeln!(out, "daemonize no");
        let _ = writeln!(out, "dir {}", quote(&dir));
        let _ = writeln!(out, "logfile {}", quote(&format!("{dir}/redis.log")));
        let _ = writeln!(
            out,
            "sentinel monitor {name} 127.0.0.1 {} {}",
            self.primary_port, self.quorum
        );
        let _ = writeln!(
            out,
            "sentinel down-after-milliseconds {name} {DOWN_AFTER_MS}"
        );
        let _ = writeln!(
            out,
            "sentinel failover-timeout {name} {FAILOVER_TIMEOUT_MS}"
        );
        let _ = writeln!(out, "sentinel parallel-syncs {name} 1");
        if let Some(pw) = &self.auth_pass {
            let _ = writeln!(out, "sentinel auth-pass {name} {}", quote(pw));
        }
        out
    }
}

/// The quorum for `n` sentinels: 2, or 1 when there is only one.
#[must_use]
pub fn quorum_for(n: usize) -> usize {
    n.clamp(1, 2)
}

/// Waits (bounded) until every sentinel knows the others and `replicas` replicas, so that
/// `CKQUORUM` passes and a failover can start.
pub(super) async fn wait_ready(
    addrs: &[(String, crate::config::Addr)],
    master_name: &str,
    replicas: u64,
    timeout: Duration,
) -> Result<(), SandboxError> {
    let deadline = Instant::now() + timeout;
    let others = u64::try_from(addrs.len().saturating_sub(1)).unwrap_or(0);
    for (name, addr) in addrs {
        let node = crate::sentinel::poll::as_node(addr);
        let t = Timeouts {
            connect: Duration::from_secs(1),
            read: Duration::from_secs(1),
        };
        let mut client = NodeClient::new(&node, t, super::SANDBOX_CLIENT_NAME)
            .map_err(|e| SandboxError::InvalidSpec(e.to_string()))?;
        loop {
            let last = match crate::sentinel::poll_one(&mut client, master_name).await {
                Ok(seen) => match &seen.master {
                    Some(m)
                        if m.num_other_sentinels >= Some(others)
                            && m.num_replicas >= Some(replicas)
                            && matches!(seen.quorum, Some(Ok(_))) =>
                    {
                        break
                    }
                    Some(m) => format!(
                        "knows {:?} other sentinels and {:?} replicas",
                        m.num_other_sentinels, m.num_replicas
                    ),
                    None => format!("does not monitor '{master_name}'"),
                },
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(SandboxError::NotReady {
                    node: name.clone(),
                    last_state: last,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_monitors_the_primary_with_short_timeouts() {
        let w = Watch {
            master_name: "sand box".into(),
            primary_port: 7001,
            quorum: 2,
            auth_pass: Some("p\"w".into()),
        };
        let text = w.conf_text(26001, Path::new("/tmp/s1"));
        assert!(text.contains("port 26001\n"), "{text}");
        assert!(
            text.contains("sentinel monitor \"sand box\" 127.0.0.1 7001 2\n"),
            "{text}"
        );
        assert!(
            text.contains("down-after-milliseconds \"sand box\" 1000"),
            "{text}"
        );
        assert!(text.contains("auth-pass \"sand box\" \"p\\\"w\""), "{text}");
        assert_eq!(quorum_for(3), 2);
        assert_eq!(quorum_for(1), 1);
    }
}
