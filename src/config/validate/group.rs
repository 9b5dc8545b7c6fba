//! `[[groups]]` and `[[groups.nodes]]`: names, addresses, lag thresholds, Sentinel, cluster.
//!
//! Owns the rules that span several keys of a group (unique names and addresses, the preferred
//! primary naming a node, warn <= crit, Sentinel xor cluster) and the inheritance of connection
//! settings from the group to its nodes. Passwords are read in `connection.rs`.

use super::connection::{
    ca_without_tls, check_ca_file, validate_client_cert, validate_level, Level,
};
use super::{invalid, strip_value, validate_name, Ctx, Result};
use crate::config::error::{quoted, ConfigError, ErrorKind};
use crate::config::raw::{RawGroup, RawNode, RawSentinel, S};
use crate::config::{Addr, AddrError, Group, LagThresholds, Node, ParsedAddr, Sentinel, Tls};

/// The port Sentinel listens on when an address gives none.
const SENTINEL_PORT: u16 = 26379;

/// All `[[groups]]`: at least one, names unique.
pub(in crate::config) fn validate_groups(
    raw: Option<&S<Vec<S<RawGroup>>>>,
    ctx: &Ctx<'_>,
) -> Result<Vec<Group>> {
    let list = raw.map_or(&[][..], |g| g.get_ref().as_slice());
    if list.is_empty() {
        return Err(ConfigError::new(ErrorKind::NoGroups, "no groups to watch")
            .with_key("groups")
            .with_span(raw.map_or(0..0, S::span))
            .with_hint(
                "add a [[groups]] with a name and at least one [[groups.nodes]] \
                 (see sample-configs/three-node.toml), or use --node ADDR to watch a node \
                 without a config",
            ));
    }
    let mut groups: Vec<Group> = Vec::with_capacity(list.len());
    for (i, g) in list.iter().enumerate() {
        let group = validate_group(i, g, ctx)?;
        if let Some(first) = groups.iter().position(|x| x.name == group.name) {
            let at = g.get_ref().name.as_ref().map_or(g.span(), S::span);
            return Err(ConfigError::new(
                ErrorKind::Duplicate,
                format!("duplicate group name {}", quoted(&group.name)),
            )
            .with_key(format!("groups[{i}].name"))
            .with_span(at)
            .with_detail(format!("groups[{first}] already has this name"))
            .with_hint("give every group its own name"));
        }
        check_unique_across(i, g.get_ref(), &group, &groups)?;
        groups.push(group);
    }
    Ok(groups)
}

fn validate_group(i: usize, g: &S<RawGroup>, ctx: &Ctx<'_>) -> Result<Group> {
    let raw = g.get_ref();
    let key = |leaf: &str| format!("groups[{i}].{leaf}");
    let name = validate_name(raw.name.as_ref(), g.span(), &key("name"), "cache-main")?;
    let env = match &raw.env {
        Some(v) if v.get_ref().trim().is_empty() => {
            return Err(super::empty(v, &key("env"), "env = \"production\""));
        }
        Some(v) => Some(v.get_ref().clone()),
        None => None,
    };
    let lag = validate_lag(i, raw)?;
    let sentinel = match &raw.sentinel {
        Some(s) => Some(validate_sentinel(i, s)?),
        None => None,
    };
    let cluster = raw.cluster.as_ref().is_some_and(|v| *v.get_ref());
    if let (true, Some(_)) = (cluster, &sentinel) {
        let at = raw.cluster.as_ref().map_or(g.span(), S::span);
        return Err(
            ConfigError::new(ErrorKind::Conflict, "both sentinel and cluster are set")
                .with_key(key("cluster"))
                .with_span(at)
                .with_hint("a group is either watched by Sentinel or is a Redis Cluster: keep one"),
        );
    }
    let defaults = validate_level(&raw.connection(), &format!("groups[{i}]"), ctx)?;

    let raw_nodes = raw
        .nodes
        .as_ref()
        .map_or(&[][..], |n| n.get_ref().as_slice());
    if raw_nodes.is_empty() {
        return Err(ConfigError::new(
            ErrorKind::MissingKey,
            format!("group {} has no nodes", quoted(&name)),
        )
        .with_key(key("nodes"))
        .with_span(raw.nodes.as_ref().map_or(g.span(), S::span))
        .with_hint("add at least one [[groups.nodes]] with name and addr under this group"));
    }
    let mut nodes: Vec<Node> = Vec::with_capacity(raw_nodes.len());
    for (j, n) in raw_nodes.iter().enumerate() {
        let node = validate_node(i, j, n, &defaults, ctx)?;
        check_unique(i, j, n, &node, &nodes)?;
        nodes.push(node);
    }
    if let Some(ca) = &defaults.ca_file {
        if nodes.iter().all(|n| n.tls.is_none()) {
            return Err(ca_without_tls(ca));
        }
    }
    let preferred_primary = match &raw.preferred_primary {
        Some(p) if !nodes.iter().any(|n| &n.name == p.get_ref()) => {
            let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
            return Err(invalid(
                p,
                &key("preferred_primary"),
                format!("unknown node {}", quoted(p.get_ref())),
            )
            .with_detail(format!(
                "the nodes of group '{name}' are {}",
                names.join(", ")
            ))
            .with_hint("set it to the name of one of the group's nodes, or remove it"));
        }
        Some(p) => Some(p.get_ref().clone()),
        None => None,
    };
    Ok(Group {
        name,
        env,
        read_only: raw.read_only.as_ref().is_some_and(|v| *v.get_ref()),
        preferred_primary,
        lag,
        sentinel,
        cluster,
        nodes,
    })
}

/// A node's name and address must not repeat within its group.
fn check_unique(i: usize, j: usize, raw: &S<RawNode>, node: &Node, before: &[Node]) -> Result<()> {
    let r = raw.get_ref();
    if let Some(k) = before.iter().position(|n| n.name == node.name) {
        return Err(ConfigError::new(
            ErrorKind::Duplicate,
            format!("duplicate node name {}", quoted(&node.name)),
        )
        .with_key(format!("groups[{i}].nodes[{j}].name"))
        .with_span(r.name.as_ref().map_or(raw.span(), S::span))
        .with_detail(format!("groups[{i}].nodes[{k}] already has this name"))
        .with_hint("give every node of a group its own name"));
    }
    if let Some(k) = before.iter().position(|n| n.addr.same_endpoint(&node.addr)) {
        return Err(same_address(
            format!("groups[{i}].nodes[{j}].addr"),
            r.addr.as_ref().map_or(raw.span(), S::span),
            node,
            &before[k],
            None,
        ));
    }
    Ok(())
}

/// A node whose address another node already has, maybe in another spelling (`localhost` for
/// `127.0.0.1`) or in another group (`other_group`): one server configured twice is watched
/// twice, its role counted twice, and it hides loops from the repoint guard.
fn same_address(
    key: String,
    span: std::ops::Range<usize>,
    node: &Node,
    first: &Node,
    other_group: Option<&str>,
) -> ConfigError {
    let whose = match other_group {
        Some(g) => format!("node '{}' of group '{g}'", first.name),
        None => format!("node '{}'", first.name),
    };
    let detail = if first.addr == node.addr {
        format!("{whose} already has this address")
    } else {
        format!(
            "{whose} already has it as {}: both name the same server",
            quoted(&first.addr.to_string())
        )
    };
    ConfigError::new(
        ErrorKind::Duplicate,
        format!("duplicate address {}", quoted(&node.addr.to_string())),
    )
    .with_key(key)
    .with_span(span)
    .with_detail(detail)
    .with_hint(
        "each configured node is a different server: check the host and port, and list each \
         server once, in one group",
    )
}

/// No server may appear in two groups: it belongs to one replication group.
fn check_unique_across(i: usize, raw: &RawGroup, group: &Group, earlier: &[Group]) -> Result<()> {
    let raw_nodes = raw
        .nodes
        .as_ref()
        .map_or(&[][..], |n| n.get_ref().as_slice());
    for (j, node) in group.nodes.iter().enumerate() {
        for g in earlier {
            if let Some(first) = g.nodes.iter().find(|n| n.addr.same_endpoint(&node.addr)) {
                let span = raw_nodes.get(j).map_or(0..0, |n| {
                    n.get_ref().addr.as_ref().map_or(n.span(), S::span)
                });
                return Err(same_address(
                    format!("groups[{i}].nodes[{j}].addr"),
                    span,
                    node,
                    first,
                    Some(&g.name),
                ));
            }
        }
    }
    Ok(())
}

fn validate_node(
    i: usize,
    j: usize,
    n: &S<RawNode>,
    defaults: &Level,
    ctx: &Ctx<'_>,
) -> Result<Node> {
    let raw = n.get_ref();
    let prefix = format!("groups[{i}].nodes[{j}]");
    let key = |leaf: &str| format!("{prefix}.{leaf}");
    let name = validate_name(raw.name.as_ref(), n.span(), &key("name"), "m1")?;
    let Some(addr) = &raw.addr else {
        return Err(ConfigError::new(ErrorKind::MissingKey, "missing key")
            .with_key(key("addr"))
            .with_span(n.span())
            .with_hint("every node needs an address: add addr = \"10.0.0.11:6379\""));
    };
    let parsed = validate_addr(addr, &key("addr"), None)?;
    let own = validate_level(&raw.connection(), &prefix, ctx)?;
    let tls_written = own.tls.or(defaults.tls);
    if parsed.tls && tls_written == Some(false) {
        return Err(ConfigError::new(
            ErrorKind::Conflict,
            "the address is a rediss:// URL (TLS) but tls is false",
        )
        .with_key(key("addr"))
        .with_span(addr.span())
        .with_hint("write redis:// to connect without TLS, or remove tls = false"));
    }
    let addr = parsed.addr;
    let tls_on = parsed.tls || tls_written.unwrap_or(false);
    let client_cert = validate_client_cert(
        own.cert_file.as_ref().or(defaults.cert_file.as_ref()),
        own.key_file.as_ref().or(defaults.key_file.as_ref()),
        tls_on,
    )?;
    let tls = if tls_on {
        let ca = own.ca_file.as_ref().or(defaults.ca_file.as_ref());
        if let Some(ca) = ca {
            check_ca_file(ca)?;
        }
        Some(Tls {
            ca_file: ca.map(|c| c.path.clone()),
            client_cert,
        })
    } else {
        if let Some(ca) = &own.ca_file {
            return Err(ca_without_tls(ca));
        }
        None
    };
    Ok(Node {
        name,
        addr,
        username: own.username.or_else(|| defaults.username.clone()),
        password: own.password.or_else(|| defaults.password.clone()),
        tls,
    })
}

/// `host:port` or a `redis://` / `rediss://` URL; `default_port` replaces 6379 when the
/// address gives no port.
fn validate_addr(v: &S<String>, key: &str, default_port: Option<u16>) -> Result<ParsedAddr> {
    let written = v.get_ref();
    let mut parsed = Addr::parse_full(written).map_err(|e| match e {
        // Never quote the value: it holds a password.
        AddrError::Credentials { .. } => invalid(v, key, "invalid address")
            .with_detail(e.to_string())
            .with_hint(
                "write the address without them and set username = \"NAME\" and \
                 password_env = \"VAR\" (the variable holds the password)",
            ),
        AddrError::Database { ref db, .. } => {
            invalid(v, key, format!("invalid address {}", quoted(written)))
                .with_detail(strip_value(&e.to_string(), written))
                .with_hint(format!(
                    "remove '/{db}': redops watches and acts on whole servers, and every \
                     database of a server replicates together"
                ))
        }
        AddrError::Invalid(msg) => invalid(v, key, format!("invalid address {}", quoted(written)))
            .with_detail(strip_value(&msg, written))
            .with_hint(
                "write it as host:port, e.g. \"10.0.0.11:6379\" or \"[::1]:6379\", \
                 or as redis://host:port",
            ),
    })?;
    if let Some(port) = default_port {
        if !parsed.port_given {
            parsed.addr.port = port;
        }
    }
    Ok(parsed)
}

fn validate_lag(i: usize, raw: &RawGroup) -> Result<LagThresholds> {
    let key = |leaf: &str| format!("groups[{i}].{leaf}");
    let d = LagThresholds::default();
    let bytes = |v: Option<&S<i64>>, leaf: &str, default: u64| -> Result<u64> {
        let Some(v) = v else { return Ok(default) };
        u64::try_from(*v.get_ref()).map_err(|_| {
            invalid(v, &key(leaf), format!("negative lag '{}'", v.get_ref()))
                .with_hint("give a number of bytes, 0 or more, e.g. 1_048_576")
        })
    };
    let seconds = |v: Option<&S<f64>>, leaf: &str, default: f64| -> Result<f64> {
        let Some(v) = v else { return Ok(default) };
        let s = *v.get_ref();
        if s.is_finite() && s >= 0.0 {
            Ok(s)
        } else {
            Err(invalid(v, &key(leaf), format!("invalid lag '{s}'"))
                .with_hint("give a number of seconds, 0 or more, e.g. 5.0"))
        }
    };
    let lag = LagThresholds {
        warn_bytes: bytes(raw.lag_warn_bytes.as_ref(), "lag_warn_bytes", d.warn_bytes)?,
        crit_bytes: bytes(raw.lag_crit_bytes.as_ref(), "lag_crit_bytes", d.crit_bytes)?,
        warn_seconds: seconds(
            raw.lag_warn_seconds.as_ref(),
            "lag_warn_seconds",
            d.warn_seconds,
        )?,
        crit_seconds: seconds(
            raw.lag_crit_seconds.as_ref(),
            "lag_crit_seconds",
            d.crit_seconds,
        )?,
    };
    let order = |warn: Option<std::ops::Range<usize>>,
                 crit: Option<std::ops::Range<usize>>,
                 unit: &str,
                 (w, c): (String, String)| {
        let (leaf, span) = match (warn, crit) {
            (Some(s), _) => (format!("lag_warn_{unit}"), s),
            (None, Some(s)) => (format!("lag_crit_{unit}"), s),
            (None, None) => (format!("lag_warn_{unit}"), 0..0),
        };
        ConfigError::new(
            ErrorKind::Conflict,
            "lag warning level above the critical level",
        )
        .with_key(key(&leaf))
        .with_span(span)
        .with_detail(format!("lag_warn_{unit} is {w} but lag_crit_{unit} is {c}"))
        .with_hint(format!(
            "the warning level must not exceed the critical one: lower lag_warn_{unit} \
                 or raise lag_crit_{unit}"
        ))
    };
    if lag.warn_bytes > lag.crit_bytes {
        return Err(order(
            raw.lag_warn_bytes.as_ref().map(S::span),
            raw.lag_crit_bytes.as_ref().map(S::span),
            "bytes",
            (lag.warn_bytes.to_string(), lag.crit_bytes.to_string()),
        ));
    }
    if lag.warn_seconds > lag.crit_seconds {
        return Err(order(
            raw.lag_warn_seconds.as_ref().map(S::span),
            raw.lag_crit_seconds.as_ref().map(S::span),
            "seconds",
            (lag.warn_seconds.to_string(), lag.crit_seconds.to_string()),
        ));
    }
    Ok(lag)
}

fn validate_sentinel(i: usize, s: &S<RawSentinel>) -> Result<Sentinel> {
    let raw = s.get_ref();
    let key = |leaf: &str| format!("groups[{i}].sentinel.{leaf}");
    let addrs_written = raw
        .addrs
        .as_ref()
        .map_or(&[][..], |a| a.get_ref().as_slice());
    if addrs_written.is_empty() {
        return Err(
            ConfigError::new(ErrorKind::MissingKey, "sentinel without addresses")
                .with_key(key("addrs"))
                .with_span(raw.addrs.as_ref().map_or(s.span(), S::span))
                .with_hint("list the sentinels: addrs = [\"10.0.0.5:26379\", \"10.0.0.6:26379\"]"),
        );
    }
    let mut addrs = Vec::with_capacity(addrs_written.len());
    for (k, a) in addrs_written.iter().enumerate() {
        let parsed = validate_addr(a, &key(&format!("addrs[{k}]")), Some(SENTINEL_PORT))?;
        if parsed.tls {
            return Err(
                invalid(a, &key(&format!("addrs[{k}]")), "rediss:// for a sentinel")
                    .with_hint("redops connects to Sentinel without TLS: write host:port"),
            );
        }
        addrs.push(parsed.addr);
    }
    let master_name = match &raw.master_name {
        Some(m) if !m.get_ref().trim().is_empty() => m.get_ref().clone(),
        other => {
            return Err(
                ConfigError::new(ErrorKind::MissingKey, "sentinel without master_name")
                    .with_key(key("master_name"))
                    .with_span(other.as_ref().map_or(s.span(), S::span))
                    .with_hint(
                        "give the name the sentinels monitor (SENTINEL MASTERS lists it), \
                 e.g. master_name = \"mymaster\"",
                    ),
            );
        }
    };
    Ok(Sentinel { addrs, master_name })
}
