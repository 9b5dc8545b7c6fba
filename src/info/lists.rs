//! The indexed list fields: `slaveN:` (replicas as a primary sees them) and `dbN:` (keyspace).
//!
//! Formats (REDIS.md §1.2, §1.4, §1.7):
//! - `slaveN:ip=…,port=…,state=…,offset=…,lag=…` (2.8+), Valkey 8 appends `,type=…`;
//!   2.6 printed the positional `slaveN:<ip>,<port>,<state>`.
//! - `dbN:keys=…,expires=…,avg_ttl=…`, Redis 7.4 appends `,subexpiry=…`, Valkey 9
//!   `,keys_with_volatile_items=…`.
//!
//! Unknown keys are ignored. A line without a usable `ip`/`port` (replica) or `keys` (db) is
//! dropped rather than invented: a port of 0 would mislead topology matching. When an index
//! repeats, the last line wins (`finish`). Nothing here panics or allocates per key beyond the
//! strings kept.

use super::{DbKeys, Info, ReplicaLine};

/// Handles `slaveN` and `dbN`; other names are ignored.
pub(super) fn apply(info: &mut Info, name: &str, v: &str) {
    // Every unknown field of a reply ends up here: rule most out on their first letter.
    if !matches!(name.as_bytes().first(), Some(b's' | b'd')) {
        return;
    }
    if let Some(index) = indexed(name, "slave") {
        if let Some(line) = replica_line(index, v) {
            info.replication.replicas.push(line);
        }
    } else if let Some(db) = indexed(name, "db") {
        if let Some(keys) = db_keys(db, v) {
            info.keyspace.push(keys);
        }
    }
}

/// Orders both lists by index and keeps the last line of each repeated index.
pub(super) fn finish(info: &mut Info) {
    last_per_index(&mut info.replication.replicas, |r| r.index);
    last_per_index(&mut info.keyspace, |d| d.db);
}

fn last_per_index<T>(items: &mut Vec<T>, index: impl Fn(&T) -> u32) {
    // The server prints ascending indexes: skip the work in the normal case.
    if items.windows(2).all(|w| match w {
        [a, b] => index(a) < index(b),
        _ => true,
    }) {
        return;
    }
    items.reverse();
    items.sort_by_key(|x| index(x)); // stable: the last original line comes first
    items.dedup_by_key(|x| index(x));
}

/// `slave12` with prefix `slave` gives 12; `slave_repl_offset` or `slave` give `None`.
fn indexed(name: &str, prefix: &str) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `k=v,k=v` pairs, keys and values trimmed; parts without `=` are skipped.
fn pairs(v: &str) -> impl Iterator<Item = (&str, &str)> {
    v.split(',')
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
}

fn replica_line(index: u32, v: &str) -> Option<ReplicaLine> {
    let mut line = ReplicaLine {
        index,
        ..ReplicaLine::default()
    };
    let mut port = None;
    if v.contains('=') {
        for (key, value) in pairs(v) {
            match key {
                "ip" => line.ip = value.to_string(),
                "port" => port = value.parse().ok(),
                "state" => line.state = value.to_string(),
                "offset" => line.offset = value.parse().ok(),
                "lag" => line.lag = value.parse().ok(),
                "type" => line.kind = (!value.is_empty()).then(|| value.to_string()),
                _ => {}
            }
        }
    } else {
        // 2.6: <ip>,<port>,<state>, no offset and no lag.
        let mut parts = v.split(',').map(str::trim);
        line.ip = parts.next().unwrap_or_default().to_string();
        port = parts.next().and_then(|p| p.parse().ok());
        line.state = parts.next().unwrap_or_default().to_string();
    }
    line.port = port?;
    (!line.ip.is_empty()).then_some(line)
}

fn db_keys(db: u32, v: &str) -> Option<DbKeys> {
    let mut out = DbKeys {
        db,
        ..DbKeys::default()
    };
    let mut keys = None;
    for (key, value) in pairs(v) {
        let n = value.parse::<u64>().ok();
        match key {
            "keys" => keys = n,
            "expires" => out.expires = n.unwrap_or(0),
            "avg_ttl" => out.avg_ttl = n,
            "subexpiry" => out.subexpiry = n,
            "keys_with_volatile_items" => out.volatile_items = n,
            _ => {}
        }
    }
    out.keys = keys?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_needs_digits_only() {
        assert_eq!(indexed("slave0", "slave"), Some(0));
        assert_eq!(indexed("slave17", "slave"), Some(17));
        assert_eq!(indexed("slave", "slave"), None);
        assert_eq!(indexed("slave_repl_offset", "slave"), None);
        assert_eq!(indexed("slave+1", "slave"), None);
        assert_eq!(indexed("db99999999999", "db"), None);
    }

    #[test]
    fn keyed_and_positional_replica_lines() {
        let l = replica_line(
            3,
            "ip=10.9.9.9,port=26379,state=online,offset=98,lag=1,type=replica,future=x",
        )
        .unwrap();
        assert_eq!(
            (l.index, l.ip.as_str(), l.port, l.state.as_str()),
            (3, "10.9.9.9", 26379, "online")
        );
        assert_eq!(
            (l.offset, l.lag, l.kind.as_deref()),
            (Some(98), Some(1), Some("replica"))
        );
        let old = replica_line(0, "127.0.0.1,6380,online").unwrap();
        assert_eq!(
            (old.ip.as_str(), old.port, old.offset),
            ("127.0.0.1", 6380, None)
        );
        assert!(replica_line(0, "ip=1.2.3.4,port=x,state=online").is_none());
        assert!(replica_line(0, "port=6379").is_none());
    }

    #[test]
    fn repeated_index_keeps_the_last_line() {
        let mut v = vec![(1u32, 'a'), (0, 'b'), (1, 'c')];
        last_per_index(&mut v, |x| x.0);
        assert_eq!(v, vec![(0, 'b'), (1, 'c')]);
    }
}
