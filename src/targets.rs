//! Turning "what to watch" into a [`Config`]: a config file, ad-hoc `--node` addresses (one
//! group, no file needed), or discovery from one seed node by walking the replication graph.
//!
//! Discovery follows a replica's `master_host:master_port` upwards and every primary's (and
//! chained replica's) `slaveN` lines downwards, bounded in node count and time.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::{self, Addr, AddrError, Config, Console, Group, Node, ParsedAddr, Secret, Tls};
use crate::node::{NodeClient, Timeouts};

/// The most nodes discovery will add.
pub const DISCOVER_MAX_NODES: usize = 256;
/// The longest discovery may take.
pub const DISCOVER_BUDGET: Duration = Duration::from_secs(20);

/// What the operator asked to watch.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub config: Option<PathBuf>,
    pub nodes: Vec<String>,
    pub discover: Option<String>,
    pub group: Option<String>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub tls: bool,
    pub ca_file: Option<PathBuf>,
    pub timeout: Option<Duration>,
}

/// Why the targets could not be resolved: a message and a hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TargetError {
    pub message: String,
    pub hint: Option<String>,
}

impl TargetError {
    fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

impl From<config::ConfigError> for TargetError {
    fn from(e: config::ConfigError) -> Self {
        // The Display already carries "error: ", the location and the hint.
        let text = e.to_string();
        Self {
            message: text.strip_prefix("error: ").unwrap_or(&text).to_string(),
            hint: None,
        }
    }
}

/// Resolves the request into a config.
///
/// # Errors
/// Config errors, bad addresses, a missing password variable, a group that does not exist,
/// a seed that cannot be read.
pub async fn resolve(req: &Request) -> Result<Config, TargetError> {
    let adhoc = !req.nodes.is_empty() || req.discover.is_some();
    let mut cfg = if adhoc {
        let mut console = Console::default();
        if let Some(t) = req.timeout {
            console.timeout = t;
            console.connect_timeout = t;
        }
        let mut template = node_template(req)?;
        // (address, written as rediss://)
        let mut addrs: Vec<(Addr, bool)> = Vec::new();
        for raw in &req.nodes {
            let p = parse_target(raw, "--node", "give host:port, e.g. --node 10.0.0.1:6379")?;
            match addrs.iter_mut().find(|(a, _)| *a == p.addr) {
                Some((_, tls)) => *tls |= p.tls,
                None => addrs.push((p.addr, p.tls)),
            }
        }
        let mut name = "cli".to_string();
        if let Some(seed) = &req.discover {
            let seed = parse_target(
                seed,
                "--discover",
                "give the host:port of any node of the group",
            )?;
            name = "discovered".to_string();
            // A rediss:// seed: the whole group speaks TLS.
            if seed.tls && template.tls.is_none() {
                template.tls = Some(Tls {
                    ca_file: req.ca_file.clone(),
                });
            }
            for a in discover(&seed.addr, &template, Timeouts::from(&console)).await? {
                if !addrs.iter().any(|(x, _)| *x == a) {
                    addrs.push((a, false));
                }
            }
        }
        let nodes = addrs
            .into_iter()
            .map(|(addr, rediss)| Node {
                name: addr.to_string(),
                addr,
                tls: if rediss && template.tls.is_none() {
                    Some(Tls {
                        ca_file: req.ca_file.clone(),
                    })
                } else {
                    template.tls.clone()
                },
                ..template.clone()
            })
            .collect();
        Config {
            console,
            groups: vec![Group::new(name, nodes)],
            source: None,
        }
    } else {
        let path = req
            .config
            .clone()
            .unwrap_or_else(config::default_config_path);
        if req.config.is_none() && !path.exists() {
            return Err(TargetError::new(
                format!("no config file at '{}'", path.display()),
                "pass --config FILE, or --node HOST:PORT (repeatable), or --discover HOST:PORT; \
                 `redops sandbox` starts local servers to try it on",
            ));
        }
        config::load_file(&path)?
    };
    if let Some(g) = &req.group {
        let names: Vec<String> = cfg.groups.iter().map(|g| g.name.clone()).collect();
        cfg.groups.retain(|x| &x.name == g);
        if cfg.groups.is_empty() {
            return Err(TargetError::new(
                format!("no group named '{g}'"),
                format!("groups are: {}", names.join(", ")),
            ));
        }
    }
    Ok(cfg)
}

/// Connection settings shared by every ad-hoc node.
fn node_template(req: &Request) -> Result<Node, TargetError> {
    let password = match &req.password_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(Secret::new(v)),
            _ => {
                return Err(TargetError::new(
                    format!("environment variable '{var}' (--password-env) is not set"),
                    format!("export {var}=... before running, or drop --password-env"),
                ))
            }
        },
    };
    let rediss = req
        .nodes
        .iter()
        .chain(req.discover.as_ref())
        .any(|a| Addr::parse_full(a).is_ok_and(|p| p.tls));
    if req.ca_file.is_some() && !req.tls && !rediss {
        return Err(TargetError::new(
            "--ca-file given without --tls",
            "add --tls (or write the addresses as rediss://host:port) to connect with TLS",
        ));
    }
    Ok(Node {
        name: String::new(),
        addr: Addr {
            host: String::new(),
            port: 0,
        },
        username: req.username.clone(),
        password,
        tls: req.tls.then(|| Tls {
            ca_file: req.ca_file.clone(),
        }),
    })
}

/// Reads an address given to `flag` (`host:port` or a `redis://` / `rediss://` URL).
fn parse_target(raw: &str, flag: &str, hint: &str) -> Result<ParsedAddr, TargetError> {
    Addr::parse_full(raw).map_err(|e| match e {
        // Never quote the value: it holds a password.
        AddrError::Credentials { .. } => TargetError::new(
            format!("invalid {flag}: {e}"),
            "give the address alone and the credentials apart: --user NAME --password-env VAR \
             (VAR names the environment variable that holds the password)",
        ),
        AddrError::Database { ref db, .. } => TargetError::new(
            format!("invalid {flag} '{}': {e}", raw.trim()),
            format!(
                "remove '/{db}': redops watches and acts on whole servers, and every database \
                 of a server replicates together"
            ),
        ),
        AddrError::Invalid(_) => TargetError::new(format!("invalid {flag} '{raw}': {e}"), hint),
    })
}

/// Walks the replication graph from `seed`: up through `master_host:master_port`, down
/// through `slaveN` lines. Unreachable nodes are kept (they are part of the group).
///
/// # Errors
/// When the seed itself cannot be read.
pub async fn discover(
    seed: &Addr,
    template: &Node,
    timeouts: Timeouts,
) -> Result<Vec<Addr>, TargetError> {
    let started = Instant::now();
    let mut seen: BTreeSet<Addr> = BTreeSet::new();
    let mut order = Vec::new();
    let mut queue = VecDeque::from([seed.clone()]);
    seen.insert(seed.clone());
    while let Some(addr) = queue.pop_front() {
        order.push(addr.clone());
        if started.elapsed() > DISCOVER_BUDGET || order.len() >= DISCOVER_MAX_NODES {
            break;
        }
        let node = Node {
            name: addr.to_string(),
            addr: addr.clone(),
            ..template.clone()
        };
        let info = match NodeClient::new(&node, timeouts, "redops-discover") {
            Ok(mut c) => c.info().await.map(|(i, _)| i),
            Err(e) => Err(e),
        };
        let info = match info {
            Ok(i) => i,
            Err(e) if addr == *seed => {
                return Err(TargetError::new(
                    format!("cannot read the seed node '{addr}': {e}"),
                    "check the address, credentials (--user, --password-env) and --tls",
                ))
            }
            Err(_) => continue,
        };
        let r = &info.replication;
        let mut next = Vec::new();
        if let (Some(h), Some(p)) = (&r.master_host, r.master_port) {
            next.push(Addr {
                host: h.clone(),
                port: p,
            });
        }
        for line in &r.replicas {
            next.push(Addr {
                host: line.ip.clone(),
                port: line.port,
            });
        }
        for a in next {
            if seen.insert(a.clone()) {
                queue.push_back(a);
            }
        }
    }
    Ok(order)
}
