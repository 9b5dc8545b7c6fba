//! Sentinel's replies, parsed: the flat field/value arrays of `SENTINEL MASTER`, `REPLICAS`
//! and `SENTINELS`, the text of `CKQUORUM` and `INFO sentinel`. Pure and total: every reply is
//! untrusted, a field that is missing or not a number is `None`, a reply of the wrong shape is
//! an error naming the command; nothing here panics. Redis's `master`/`slave` words stay here
//! (and in the flags shown as Sentinel wrote them).

use crate::config::Addr;
use crate::node::reply::lossy;

/// One `field value field value …` entry as pairs, in order.
type Fields = Vec<(String, String)>;

/// The longest field list kept from one entry: far more than Sentinel sends (about 40).
const MAX_FIELDS: usize = 256;

/// The most entries kept from one `REPLICAS` / `SENTINELS` reply.
const MAX_ENTRIES: usize = 1024;

/// What `SENTINEL MASTER <name>` says of the master it watches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MasterEntry {
    /// Where this sentinel says the master is.
    pub addr: Option<Addr>,
    /// `flags`, split on commas (`master`, `s_down`, `o_down`, `failover_in_progress`, …).
    pub flags: Vec<String>,
    /// `role-reported` (`master` or `slave`): what the node itself told Sentinel.
    pub role_reported: Option<String>,
    pub config_epoch: Option<u64>,
    pub num_replicas: Option<u64>,
    pub num_other_sentinels: Option<u64>,
    pub quorum: Option<u64>,
    /// `failover-state` (`wait_start`, `select_slave`, …) while a failover runs.
    pub failover_state: Option<String>,
    /// `down-after-milliseconds`.
    pub down_after_ms: Option<u64>,
}

impl MasterEntry {
    /// A failover flag, or a failover state other than `none`.
    #[must_use]
    pub fn failover_in_progress(&self) -> bool {
        self.has_flag("failover_in_progress")
            || self
                .failover_state
                .as_deref()
                .is_some_and(|s| !s.is_empty() && s != "none")
    }

    /// True when `flag` is among the flags.
    #[must_use]
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// One entry of `SENTINEL REPLICAS <name>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaEntry {
    pub addr: Option<Addr>,
    pub flags: Vec<String>,
    /// `master-link-status` is `ok`.
    pub link_ok: Option<bool>,
    /// `master-link-down-time`, in milliseconds.
    pub link_down_ms: Option<u64>,
    /// `slave-priority` (0: never promoted).
    pub priority: Option<u64>,
    /// Where the replica says it replicates from (`master-host`, `master-port`).
    pub upstream: Option<Addr>,
    pub offset: Option<u64>,
    /// `info-refresh`: milliseconds since this sentinel last read the replica's `INFO`.
    pub info_refresh_ms: Option<u64>,
}

impl ReplicaEntry {
    /// Sentinel considers it down (subjectively or objectively) or disconnected.
    #[must_use]
    pub fn is_down(&self) -> bool {
        self.flags
            .iter()
            .any(|f| f == "s_down" || f == "o_down" || f == "disconnected")
    }
}

/// One entry of `SENTINEL SENTINELS <name>`: another sentinel this one knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerEntry {
    pub addr: Option<Addr>,
    pub flags: Vec<String>,
}

/// `INFO sentinel`, the fields redops reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentinelInfo {
    /// `sentinel_tilt:1`.
    pub tilt: bool,
    /// `sentinel_masters`.
    pub masters: Option<u64>,
    /// `version`/`redis_version` from the server section, when it was asked.
    pub version: Option<String>,
}

/// A reply of the wrong shape, naming the command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{command}' answered {what}, not Sentinel's field list: not a sentinel, or a broken one")]
pub struct ShapeError {
    pub command: &'static str,
    pub what: &'static str,
}

fn text_of(v: &redis::Value) -> Option<String> {
    match v {
        redis::Value::BulkString(b) => Some(lossy(b.clone())),
        redis::Value::SimpleString(s) | redis::Value::VerbatimString { text: s, .. } => {
            Some(s.clone())
        }
        redis::Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// One entry (an array of alternating names and values, or a RESP3 map) as pairs.
fn fields(v: &redis::Value, command: &'static str) -> Result<Fields, ShapeError> {
    let items: Vec<(&redis::Value, &redis::Value)> = match v {
        redis::Value::Array(a) => a.chunks_exact(2).map(|c| (&c[0], &c[1])).collect(),
        redis::Value::Map(m) => m.iter().map(|(k, v)| (k, v)).collect(),
        _ => {
            return Err(ShapeError {
                command,
                what: "something else",
            })
        }
    };
    Ok(items
        .into_iter()
        .take(MAX_FIELDS)
        .filter_map(|(k, v)| Some((text_of(k)?, text_of(v)?)))
        .collect())
}

fn get<'a>(f: &'a Fields, name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A value kept as text: made safe for a terminal here, once (hosts, flags, states).
fn safe(f: &Fields, name: &str) -> Option<String> {
    get(f, name).map(|v| crate::sanitize::visible(v).into_owned())
}

fn num(f: &Fields, name: &str) -> Option<u64> {
    get(f, name)?.trim().parse().ok()
}

fn addr(f: &Fields, host: &str, port: &str) -> Option<Addr> {
    let host = safe(f, host)?;
    let port = get(f, port)?.trim().parse().ok()?;
    let host = host.trim();
    (!host.is_empty()).then(|| Addr {
        host: host.to_string(),
        port,
    })
}

fn flags(f: &Fields) -> Vec<String> {
    safe(f, "flags")
        .map(|s| {
            s.split(',')
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `SENTINEL MASTER <name>`.
///
/// # Errors
/// A reply that is not a field list.
pub fn master(v: &redis::Value) -> Result<MasterEntry, ShapeError> {
    let f = fields(v, "SENTINEL MASTER")?;
    Ok(MasterEntry {
        addr: addr(&f, "ip", "port"),
        flags: flags(&f),
        role_reported: safe(&f, "role-reported"),
        config_epoch: num(&f, "config-epoch"),
        num_replicas: num(&f, "num-slaves"),
        num_other_sentinels: num(&f, "num-other-sentinels"),
        quorum: num(&f, "quorum"),
        failover_state: safe(&f, "failover-state"),
        down_after_ms: num(&f, "down-after-milliseconds"),
    })
}

fn entries<T>(
    v: &redis::Value,
    command: &'static str,
    each: impl Fn(&Fields) -> T,
) -> Result<Vec<T>, ShapeError> {
    let redis::Value::Array(list) = v else {
        return Err(ShapeError {
            command,
            what: "something other than a list",
        });
    };
    list.iter()
        .take(MAX_ENTRIES)
        .map(|e| fields(e, command).map(|f| each(&f)))
        .collect()
}

/// `SENTINEL REPLICAS <name>`.
///
/// # Errors
/// A reply that is not a list of field lists.
pub fn replicas(v: &redis::Value) -> Result<Vec<ReplicaEntry>, ShapeError> {
    entries(v, "SENTINEL REPLICAS", |f| ReplicaEntry {
        addr: addr(f, "ip", "port"),
        flags: flags(f),
        link_ok: get(f, "master-link-status").map(|s| s == "ok"),
        link_down_ms: num(f, "master-link-down-time"),
        priority: num(f, "slave-priority").or_else(|| num(f, "replica-priority")),
        upstream: addr(f, "master-host", "master-port"),
        offset: num(f, "slave-repl-offset"),
        info_refresh_ms: num(f, "info-refresh"),
    })
}

/// `SENTINEL SENTINELS <name>`.
///
/// # Errors
/// A reply that is not a list of field lists.
pub fn peers(v: &redis::Value) -> Result<Vec<PeerEntry>, ShapeError> {
    entries(v, "SENTINEL SENTINELS", |f| PeerEntry {
        addr: addr(f, "ip", "port"),
        flags: flags(f),
    })
}

/// `INFO` text of a sentinel.
#[must_use]
pub fn info(text: &str) -> SentinelInfo {
    let mut out = SentinelInfo::default();
    for line in text.lines() {
        let Some((k, v)) = line.trim_end().split_once(':') else {
            continue;
        };
        match k {
            "sentinel_tilt" => out.tilt = v == "1",
            "sentinel_masters" => out.masters = v.parse().ok(),
            "redis_version" | "valkey_version" if out.version.is_none() => {
                out.version = Some(crate::sanitize::visible(v).into_owned());
            }
            _ => {}
        }
    }
    out
}

/// Sentinel's error reply for a master name it does not monitor (`ERR No such master with
/// that name`): the one error the view turns into its own anomaly.
#[must_use]
pub fn is_unknown_master(message: &str) -> bool {
    message.to_ascii_lowercase().contains("no such master")
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn flat(pairs: &[(&str, &str)]) -> Value {
        Value::Array(pairs.iter().flat_map(|(k, v)| [bulk(k), bulk(v)]).collect())
    }

    #[test]
    fn master_fields_observed_on_7_0() {
        let v = flat(&[
            ("name", "grp1"),
            ("ip", "127.0.0.1"),
            ("port", "17001"),
            ("flags", "master,failover_in_progress"),
            ("role-reported", "master"),
            ("config-epoch", "3"),
            ("num-slaves", "3"),
            ("num-other-sentinels", "2"),
            ("quorum", "2"),
            ("failover-state", "select_slave"),
        ]);
        let m = master(&v).expect("parses");
        assert_eq!(m.addr.as_ref().map(|a| a.port), Some(17001));
        assert!(m.failover_in_progress());
        assert_eq!(
            (m.quorum, m.num_other_sentinels, m.config_epoch),
            (Some(2), Some(2), Some(3))
        );
    }

    #[test]
    fn hostile_replies_never_panic() {
        assert!(master(&Value::Int(3)).is_err());
        assert!(replicas(&Value::Nil).is_err());
        // An odd count, a nested array, a bad port, a flag list of commas.
        let odd = Value::Array(vec![
            bulk("ip"),
            bulk("h"),
            bulk("port"),
            bulk("99999"),
            bulk("flags"),
            bulk(",,,"),
            bulk("quorum"),
            Value::Array(vec![]),
            bulk("dangling"),
        ]);
        let m = master(&odd).expect("a field list");
        assert_eq!(m.addr, None);
        assert!(m.flags.is_empty());
        let m = master(&flat(&[
            ("ip", "h\x1b[2J"),
            ("port", "1"),
            ("flags", "master,\x07x"),
        ]))
        .expect("parses");
        assert!(!m.addr.expect("addr").host.contains('\x1b'));
        assert!(m.flags.iter().all(|f| !f.contains('\x07')), "{:?}", m.flags);
        assert_eq!(m.quorum, None);
        let r = replicas(&Value::Array(vec![flat(&[
            ("ip", "127.0.0.1"),
            ("port", "7002"),
            ("flags", "slave,s_down"),
            ("slave-priority", "0"),
            ("master-link-status", "err"),
        ])]))
        .expect("list");
        assert!(r[0].is_down());
        assert_eq!((r[0].priority, r[0].link_ok), (Some(0), Some(false)));
    }

    #[test]
    fn info_sentinel_tilt() {
        let i = info("# Sentinel\r\nsentinel_masters:1\r\nsentinel_tilt:1\r\n");
        assert!(i.tilt);
        assert_eq!(i.masters, Some(1));
        assert!(is_unknown_master("ERR No such master with that name"));
    }
}
