//! Property tests for the INFO parser: it is total (no input makes it panic), it keeps every
//! `field:value` line in `raw`, and a well-formed reply generated from known values gives
//! those values back.

use proptest::prelude::*;
use redops::info::{parse, InfoRole, Product};

/// Field names the parser knows, so the soup hits the typed paths with garbage values.
const KNOWN: &[&str] = &[
    "role",
    "master_host",
    "master_port",
    "master_link_status",
    "master_last_io_seconds_ago",
    "master_sync_in_progress",
    "slave_repl_offset",
    "slave_read_repl_offset",
    "master_link_down_since_seconds",
    "slave_priority",
    "slave_read_only",
    "replica_announced",
    "master_sync_total_bytes",
    "master_sync_read_bytes",
    "master_sync_left_bytes",
    "master_sync_perc",
    "master_sync_last_io_seconds_ago",
    "connected_slaves",
    "min_slaves_good_slaves",
    "master_failover_state",
    "master_replid",
    "master_replid2",
    "master_repl_offset",
    "second_repl_offset",
    "repl_backlog_active",
    "repl_backlog_size",
    "repl_backlog_first_byte_offset",
    "repl_backlog_histlen",
    "loading",
    "async_loading",
    "loading_loaded_perc",
    "loading_eta_seconds",
    "rdb_changes_since_last_save",
    "rdb_bgsave_in_progress",
    "rdb_last_save_time",
    "rdb_last_bgsave_status",
    "rdb_last_bgsave_time_sec",
    "rdb_current_bgsave_time_sec",
    "rdb_saves",
    "aof_enabled",
    "aof_last_write_status",
    "current_save_keys_processed",
    "current_save_keys_total",
    "server_name",
    "redis_version",
    "valkey_version",
    "redis_mode",
    "server_mode",
    "run_id",
    "tcp_port",
    "process_id",
    "uptime_in_seconds",
    "server_time_usec",
    "config_file",
    "used_memory",
    "maxmemory_policy",
    "connected_clients",
    "total_commands_processed",
    "sync_full",
    "slave",
    "db",
    "slave0",
    "db0",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,25}",
        "-[0-9]{1,25}",
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        prop::sample::select(vec![
            "ok", "err", "up", "down", "master", "slave", "replica", "", "1", "0", "-1", "NaN",
            "inf", "1e400", "+5", " 7 ",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,30}",
        ".{0,12}",
    ]
}

/// `k=v,k=v` garbage for `slaveN`/`dbN`, or a positional list, or nothing sensible.
fn list_value() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "ip",
        "port",
        "state",
        "offset",
        "lag",
        "type",
        "keys",
        "expires",
        "avg_ttl",
        "subexpiry",
        "keys_with_volatile_items",
        "",
        "=",
        "x",
    ]);
    prop_oneof![
        prop::collection::vec((key, value()), 0..8).prop_map(|kv| kv
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")),
        prop::collection::vec(value(), 0..5).prop_map(|v| v.join(",")),
        value(),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(KNOWN).prop_flat_map(|k| value().prop_map(move |v| format!("{k}:{v}"))),
        2 => ("(slave|db)[0-9]{1,12}", list_value()).prop_map(|(k, v)| format!("{k}:{v}")),
        1 => "[a-z_]{0,12}".prop_flat_map(|k| value().prop_map(move |v| format!("{k}:{v}"))),
        1 => "[ -~]{0,12}".prop_map(|n| format!("# {n}")),
        1 => ".{0,20}",
        1 => Just(String::new()),
    ]
}

fn soup() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(line(), 0..60),
        prop::sample::select(vec!["\n", "\r\n", "\r", "\n\n"]),
    )
        .prop_map(|(lines, end)| lines.join(end))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_strings_never_panic(text in ".{0,2000}") {
        let _ = parse(&text);
    }

    #[test]
    fn line_soups_never_panic_and_keep_every_line(text in soup()) {
        let info = parse(&text);
        // Every non-header line with a ':' is in raw, in some section.
        let expected = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && l.contains(':'))
            .count();
        let kept = info.raw.len();
        prop_assert_eq!(kept, expected);
        // Lists come out ordered with one line per index.
        let dbs: Vec<u32> = info.keyspace.iter().map(|d| d.db).collect();
        prop_assert!(dbs.windows(2).all(|w| w[0] < w[1]), "dbs {:?}", dbs);
        let idx: Vec<u32> = info.replication.replicas.iter().map(|r| r.index).collect();
        prop_assert!(idx.windows(2).all(|w| w[0] < w[1]), "replicas {:?}", idx);
        prop_assert!(info.replication.sync_perc.is_none_or(f64::is_finite));
        prop_assert!(info.persistence.loading_perc.is_none_or(f64::is_finite));
    }

    #[test]
    fn huge_single_values_are_none_not_panics(digits in "[1-9][0-9]{19,400}", neg in any::<bool>()) {
        let v = if neg { format!("-{digits}") } else { digits };
        let info = parse(&format!(
            "master_repl_offset:{v}\r\nmaster_port:{v}\r\nslave0:ip=a,port={v}\r\ndb0:keys={v}\r\n"
        ));
        prop_assert_eq!(info.replication.offset, v.parse::<u64>().ok());
        prop_assert_eq!(info.replication.master_port, None);
        prop_assert!(info.replication.replicas.is_empty());
        prop_assert_eq!(info.keyspace.len(), usize::from(v.parse::<u64>().is_ok()));
    }
}

/// The values a generated reply carries, to be read back.
#[derive(Debug, Clone)]
struct Model {
    valkey: Option<String>,
    version: String,
    replica_of: Option<(String, u16, bool, u64, i64)>,
    offset: u64,
    second_offset: i64,
    replid: String,
    replicas: Vec<(String, u16, String, u64, i64, Option<String>)>,
    dbs: Vec<(u32, u64, u64)>,
    loading: bool,
    bgsave_ok: bool,
    saves: u64,
    noise: Vec<(String, String)>,
    crlf: bool,
}

fn model() -> impl Strategy<Value = Model> {
    let replica = (
        "[0-9]{1,3}(\\.[0-9]{1,3}){3}",
        any::<u16>(),
        prop::sample::select(vec!["online", "wait_bgsave", "send_bulk", "bg_transfer"])
            .prop_map(str::to_string),
        any::<u64>(),
        -1i64..100_000,
        prop::option::of(
            prop::sample::select(vec!["replica", "rdb-channel"]).prop_map(str::to_string),
        ),
    );
    let head = (
        prop::option::of("[0-9]\\.[0-9]\\.[0-9]{1,2}"),
        "[0-9]\\.[0-9]\\.[0-9]{1,2}",
        prop::option::of((
            "[a-z0-9.-]{1,20}",
            any::<u16>(),
            any::<bool>(),
            any::<u64>(),
            -1i64..1_000_000,
        )),
        any::<u64>(),
        any::<i64>(),
        "[0-9a-f]{40}",
    );
    let tail = (
        prop::collection::vec(replica, 0..6),
        prop::collection::btree_map(any::<u32>(), (any::<u64>(), any::<u64>()), 0..6),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
        prop::collection::vec(("x_[a-z_]{1,10}", "[ -~]{0,20}"), 0..10),
        any::<bool>(),
    );
    (head, tail).prop_map(
        |(
            (valkey, version, replica_of, offset, second_offset, replid),
            (replicas, dbs, loading, bgsave_ok, saves, noise, crlf),
        )| Model {
            valkey,
            version,
            replica_of,
            offset,
            second_offset,
            replid,
            replicas,
            dbs: dbs.into_iter().map(|(db, (k, e))| (db, k, e)).collect(),
            loading,
            bgsave_ok,
            saves,
            noise,
            crlf,
        },
    )
}

fn render(m: &Model) -> String {
    let mut out: Vec<String> = vec!["# Server".into(), format!("redis_version:{}", m.version)];
    if let Some(v) = &m.valkey {
        out.push("server_name:valkey".into());
        out.push(format!("valkey_version:{v}"));
    }
    out.push("# Persistence".into());
    out.push(format!("loading:{}", u8::from(m.loading)));
    out.push(format!(
        "rdb_last_bgsave_status:{}",
        if m.bgsave_ok { "ok" } else { "err" }
    ));
    out.push(format!("rdb_saves:{}", m.saves));
    out.push("# Replication".into());
    match &m.replica_of {
        Some((host, port, up, off, down)) => {
            out.push("role:slave".into());
            out.push(format!("master_host:{host}"));
            out.push(format!("master_port:{port}"));
            out.push(format!(
                "master_link_status:{}",
                if *up { "up" } else { "down" }
            ));
            out.push(format!("slave_repl_offset:{off}"));
            out.push(format!("master_link_down_since_seconds:{down}"));
        }
        None => out.push("role:master".into()),
    }
    out.push(format!("connected_slaves:{}", m.replicas.len()));
    for (i, (ip, port, state, off, lag, kind)) in m.replicas.iter().enumerate() {
        let mut l = format!("slave{i}:ip={ip},port={port},state={state},offset={off},lag={lag}");
        if let Some(k) = kind {
            l.push_str(&format!(",type={k}"));
        }
        out.push(l);
    }
    out.push(format!("master_replid:{}", m.replid));
    out.push(format!("master_repl_offset:{}", m.offset));
    out.push(format!("second_repl_offset:{}", m.second_offset));
    // Unknown fields land between known ones.
    for (k, v) in &m.noise {
        out.push(format!("{k}:{v}"));
    }
    out.push("# Keyspace".into());
    for (db, keys, expires) in &m.dbs {
        out.push(format!(
            "db{db}:keys={keys},expires={expires},avg_ttl=0,subexpiry=0"
        ));
    }
    let end = if m.crlf { "\r\n" } else { "\n" };
    let mut text = out.join(end);
    text.push_str(end);
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_info_round_trips(m in model()) {
        let info = parse(&render(&m));
        let s = &info.server;
        if let Some(v) = &m.valkey {
            prop_assert_eq!(s.product, Product::Valkey);
            prop_assert_eq!(s.version.as_deref(), Some(v.as_str()));
        } else {
            prop_assert_eq!(s.product, Product::Redis);
            prop_assert_eq!(s.version.as_deref(), Some(m.version.as_str()));
        }
        let r = &info.replication;
        if let Some((host, port, up, off, down)) = &m.replica_of {
            prop_assert_eq!(r.role, Some(InfoRole::Replica));
            prop_assert_eq!(r.master_host.as_deref(), Some(host.as_str()));
            prop_assert_eq!(r.master_port, Some(*port));
            prop_assert_eq!(r.link_up, Some(*up));
            prop_assert_eq!(r.replica_offset, Some(*off));
            prop_assert_eq!(r.link_down_since_seconds, Some(*down));
        } else {
            prop_assert_eq!(r.role, Some(InfoRole::Primary));
            prop_assert_eq!(r.master_host.as_ref(), None);
        }
        prop_assert_eq!(r.connected_replicas, m.replicas.len() as u64);
        prop_assert_eq!(r.replicas.len(), m.replicas.len());
        for (i, (got, want)) in r.replicas.iter().zip(&m.replicas).enumerate() {
            prop_assert_eq!(got.index as usize, i);
            prop_assert_eq!(&got.ip, &want.0);
            prop_assert_eq!(got.port, want.1);
            prop_assert_eq!(&got.state, &want.2);
            prop_assert_eq!(got.offset, Some(want.3));
            prop_assert_eq!(got.lag, Some(want.4));
            prop_assert_eq!(&got.kind, &want.5);
        }
        prop_assert_eq!(r.replid.as_deref(), Some(m.replid.as_str()));
        prop_assert_eq!(r.offset, Some(m.offset));
        prop_assert_eq!(r.second_offset, Some(m.second_offset));
        let dbs: Vec<(u32, u64, u64)> = info.keyspace.iter().map(|d| (d.db, d.keys, d.expires)).collect();
        prop_assert_eq!(&dbs, &m.dbs);
        prop_assert_eq!(info.persistence.loading, m.loading);
        prop_assert_eq!(info.persistence.last_bgsave_ok, Some(m.bgsave_ok));
        prop_assert_eq!(info.persistence.saves, Some(m.saves));
        for (k, v) in &m.noise {
            prop_assert!(info.raw.section("replication").any(|(rk, rv)| rk == k && rv == v));
        }
    }
}
