//! Turning "what to watch" into a [`Config`]: a config file, ad-hoc `--node` addresses (one
//! group, no file needed), or discovery from one seed node by walking the replication graph.
//!
//! Discovery follows a replica's `master_host:master_port` upwards and every primary's (and
//! chained replica's) `slaveN` lines downwards, bounded in node count and time.
//!
//! Credentials go only to addresses the operator named (the config, `--node`, the
//! `--discover` seed). The addresses discovery finds come from server data (a replica's
//! `replica-announce-ip`, a `REPLICAOF` to any host): they are read without credentials,
//! unless the operator opts in with `--discover-auth`.

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
    /// Client certificate and key for mutual TLS (`--cert`, `--key`).
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub timeout: Option<Duration>,
    /// Send the credentials to discovered nodes too (`--discover-auth`).
    pub discover_auth: bool,
    /// Sentinels to ask for the group (`--sentinel`, with `--master-name`).
    pub sentinels: Vec<String>,
    pub master_name: Option<String>,
    /// A seed node of a Redis Cluster (`--cluster ADDR`): the group is every node it knows.
    pub cluster: Option<String>,
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
    let adhoc = !req.nodes.is_empty() || req.discover.is_some() || req.cluster.is_some();
    let mut cfg = if !req.sentinels.is_empty() {
        from_sentinels(req).await?
    } else if adhoc {
        let mut console = Console::default();
        if let Some(t) = req.timeout {
            console.timeout = t;
            console.connect_timeout = t;
        }
        let (mut template, tls_settings) = node_template(req)?;
        // Named by the operator: these get the credentials. (address, written as rediss://)
        let mut named = Vec::new();
        let mut addrs: Vec<(Addr, bool)> = Vec::new();
        for raw in &req.nodes {
            let p = parse_target(raw, "--node", "give host:port, e.g. --node 10.0.0.1:6379")?;
            if !named.contains(&p.addr) {
                named.push(p.addr.clone());
            }
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
                template.tls = Some(tls_settings.clone());
            }
            named.push(seed.addr.clone());
            let found = discover(
                &seed.addr,
                &template,
                Timeouts::from(&console),
                req.discover_auth,
            )
            .await?;
            for a in found {
                if !addrs.iter().any(|(x, _)| *x == a) {
                    addrs.push((a, false));
                }
            }
        }
        if let Some(seed) = cluster_seed(req)? {
            name = "cluster".to_string();
            // The other nodes are added, with the seed's settings, by `complete_clusters`.
            named.push(seed.addr.clone());
            addrs.push((seed.addr, seed.tls));
        }
        let nodes = addrs
            .into_iter()
            .map(|(addr, rediss)| {
                let trusted = req.discover_auth || named.contains(&addr);
                let base = credentials_for(&template, trusted);
                Node {
                    name: addr.to_string(),
                    addr,
                    tls: if rediss && base.tls.is_none() {
                        Some(tls_settings.clone())
                    } else {
                        base.tls.clone()
                    },
                    ..base
                }
            })
            .collect();
        let cluster = req.cluster.is_some();
        Config {
            console,
            groups: vec![Group {
                cluster,
                ..Group::new(name, nodes)
            }],
            source: None,
        }
    } else {
        load_config(req)?
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
    complete_clusters(req, &mut cfg).await?;
    Ok(cfg)
}

/// The ad-hoc group a sentinel describes (`--sentinel ADDR --master-name NAME`): named after
/// the master name, its master and replicas as nodes (credentials only with
/// `--discover-auth`: the addresses come from Sentinel's data), its sentinels.
async fn from_sentinels(req: &Request) -> Result<Config, TargetError> {
    let Some(master_name) = req.master_name.clone() else {
        return Err(TargetError::new(
            "--sentinel needs --master-name",
            "add --master-name NAME (the name in the sentinels' `sentinel monitor NAME ...`)",
        ));
    };
    let mut console = Console::default();
    if let Some(t) = req.timeout {
        console.timeout = t;
        console.connect_timeout = t;
    }
    let mut named = Vec::new();
    for raw in &req.sentinels {
        let mut p = Addr::parse_full(raw).map_err(|e| {
            TargetError::new(
                format!("--sentinel: {e}"),
                "give host:port, e.g. --sentinel 10.0.0.5:26379",
            )
        })?;
        if !p.port_given {
            p.addr.port = 26379;
        }
        let a = p.addr;
        if !named.contains(&a) {
            named.push(a);
        }
    }
    let found = crate::sentinel::discover::discover(&named, &master_name, Timeouts::from(&console))
        .await
        .map_err(|e| TargetError::new(e.message, e.hint))?;
    let (template, _) = node_template(req)?;
    let nodes = std::iter::once(found.master)
        .chain(found.replicas)
        .map(|addr| Node {
            name: addr.to_string(),
            addr,
            ..credentials_for(&template, req.discover_auth)
        })
        .collect();
    let mut group = Group::new(master_name.clone(), nodes);
    group.sentinel = Some(config::Sentinel {
        addrs: found.sentinels,
        master_name,
    });
    Ok(Config {
        console,
        groups: vec![group],
        source: None,
    })
}

/// The config file: `--config`, or the default path when it exists.
fn load_config(req: &Request) -> Result<Config, TargetError> {
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
    Ok(config::load_file(&path)?)
}

/// Adds to each cluster group every node its nodes know (`cluster::discover`); with
/// `--cluster`, fails when the seed named none.
async fn complete_clusters(req: &Request, cfg: &mut Config) -> Result<(), TargetError> {
    crate::cluster::discover::expand(cfg).await;
    if let (Some(seed), Some(g)) = (&req.cluster, cfg.groups.first()) {
        if g.nodes.len() < 2 {
            return Err(TargetError::new(
                format!("cannot read the cluster's nodes from '{seed}' (--cluster)"),
                "check that it runs in cluster mode (cluster-enabled yes), its address, and \
                 the credentials (--user, --password-env)",
            ));
        }
    }
    Ok(())
}

/// The `--cluster ADDR` seed, when given.
fn cluster_seed(req: &Request) -> Result<Option<ParsedAddr>, TargetError> {
    let Some(seed) = &req.cluster else {
        return Ok(None);
    };
    if seed.is_empty() {
        return Err(TargetError::new(
            "--cluster needs the address of a cluster node here",
            "give host:port of any node, e.g. --cluster 10.0.0.1:7000 (a shape such as 3x1 is \
             for `redops sandbox` and `redops demo`)",
        ));
    }
    parse_target(seed, "--cluster", "give the host:port of any cluster node").map(Some)
}

/// Connection settings shared by every ad-hoc node.
/// The settings every ad-hoc node shares, and the TLS settings a `rediss://` address uses
/// (the same CA file and client certificate, whether or not `--tls` was given).
fn node_template(req: &Request) -> Result<(Node, Tls), TargetError> {
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
    let client_cert = match (&req.cert_file, &req.key_file) {
        (None, None) => None,
        (Some(c), Some(k)) if req.tls || rediss => Some(config::ClientCert {
            cert_file: c.clone(),
            key_file: k.clone(),
        }),
        (Some(_), Some(_)) => {
            return Err(TargetError::new(
                "--cert and --key given without --tls",
                "add --tls to connect with TLS",
            ))
        }
        _ => {
            return Err(TargetError::new(
                "a client certificate needs both --cert and --key",
                "give both (PEM; the key in PKCS#8), as with redis-cli",
            ))
        }
    };
    let tls = Tls {
        ca_file: req.ca_file.clone(),
        client_cert,
    };
    let node = Node {
        name: String::new(),
        addr: Addr {
            host: String::new(),
            port: 0,
        },
        username: req.username.clone(),
        password,
        tls: req.tls.then(|| tls.clone()),
    };
    Ok((node, tls))
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

/// `template` as is for an address the operator named (or when they opted in with
/// `--discover-auth`); without username and password otherwise. TLS settings stay: a CA file
/// is no secret, and a client certificate proves who we are without giving the key away.
fn credentials_for(template: &Node, trusted: bool) -> Node {
    if trusted {
        return template.clone();
    }
    Node {
        username: None,
        password: None,
        ..template.clone()
    }
}

/// Walks the replication graph from `seed`: up through `master_host:master_port`, down
/// through `slaveN` lines. Unreachable nodes are kept (they are part of the group). Only the
/// seed is sent the credentials, unless `send_credentials` (`--discover-auth`): the other
/// addresses were chosen by server data.
///
/// # Errors
/// When the seed itself cannot be read.
pub async fn discover(
    seed: &Addr,
    template: &Node,
    timeouts: Timeouts,
    send_credentials: bool,
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
            ..credentials_for(template, send_credentials || addr == *seed)
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
