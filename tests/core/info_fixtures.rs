//! The INFO parser against the fixtures in `tests/fixtures/info/`: replies recorded from real
//! redis-server 7.0.15 processes, and replies constructed from the documented field set of
//! versions that cannot be run here (see that folder's README). Every assertion is on a value
//! that is really in the file.

use std::path::PathBuf;

use redops::info::{parse, Info, InfoRole, Product, ReplicaLine};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/info")
}

/// The exact bytes, checked to be a real INFO reply shape (`\r\n` line ends).
fn text(name: &str) -> String {
    let bytes = std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(text.contains("\r\n"), "{name} lost its \\r\\n line ends");
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "{name} mixes bare \\n with \\r\\n"
    );
    text
}

fn load(name: &str) -> Info {
    parse(&text(name))
}

fn line(ip: &str, port: u16, state: &str, offset: Option<u64>, lag: Option<i64>) -> ReplicaLine {
    ReplicaLine {
        index: 0,
        ip: ip.into(),
        port,
        state: state.into(),
        offset,
        lag,
        kind: None,
    }
}

fn indexed(index: u32, l: ReplicaLine) -> ReplicaLine {
    ReplicaLine { index, ..l }
}

fn dbs(info: &Info) -> Vec<(u32, u64, u64)> {
    info.keyspace
        .iter()
        .map(|d| (d.db, d.keys, d.expires))
        .collect()
}

const RECORDED: &[&str] = &[
    "redis-7.0-primary.txt",
    "redis-7.0-replica.txt",
    "redis-7.0-chained-replica.txt",
    "redis-7.0-replica-link-down.txt",
    "redis-7.0-promoted-replica.txt",
    "redis-7.0-replica-never-connected.txt",
    "redis-7.0-bgsave-in-progress.txt",
    "redis-7.0-bgsave-failed.txt",
    "redis-7.0-primary-full-sync.txt",
    "redis-7.0-replica-full-sync.txt",
    "redis-7.0-replica-loading.txt",
    "redis-7.0-keyspace.txt",
    "valkey-9.1-primary.txt",
    "valkey-9.1-replica.txt",
];

const CONSTRUCTED: &[&str] = &[
    "redis-2.6-primary.constructed.txt",
    "redis-2.6-replica.constructed.txt",
    "redis-2.8-replica.constructed.txt",
    "redis-3.2-primary.constructed.txt",
    "redis-4.0-promoted.constructed.txt",
    "redis-5.0-replica.constructed.txt",
    "redis-6.2-primary-failover.constructed.txt",
    "redis-6.2-replica-full-sync.constructed.txt",
    "redis-7.4-primary.constructed.txt",
    "valkey-7.2-replica.constructed.txt",
    "valkey-8.0-primary.constructed.txt",
    "valkey-9.1-primary.constructed.txt",
    "valkey-9.1-replica.constructed.txt",
];

#[test]
fn every_fixture_file_is_listed_here() {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = RECORDED
        .iter()
        .chain(CONSTRUCTED)
        .map(std::string::ToString::to_string)
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn line_endings_do_not_change_the_result() {
    for name in RECORDED.iter().chain(CONSTRUCTED) {
        let crlf = text(name);
        let info = parse(&crlf);
        assert!(info.replication.role.is_some(), "{name}: no role");
        assert_eq!(parse(&crlf.replace("\r\n", "\n")), info, "{name}");
    }
}

#[test]
fn recorded_primary_with_two_replicas() {
    let i = load("redis-7.0-primary.txt");
    let s = &i.server;
    assert_eq!(s.product, Product::Redis);
    assert_eq!(s.version.as_deref(), Some("7.0.15"));
    assert_eq!(s.version_triple(), Some((7, 0, 15)));
    assert_eq!(s.mode.as_deref(), Some("standalone"));
    assert_eq!(
        s.run_id.as_deref(),
        Some("e42e29c28113d38da94ad1c572a6797fa8dadff6")
    );
    assert_eq!(s.tcp_port, Some(34307));
    assert_eq!(s.process_id, Some(8405));
    assert_eq!(s.uptime_seconds, Some(2));
    assert_eq!(s.time_usec, Some(1_795_269_556_782_044));
    assert_eq!(s.config_file.as_deref(), Some(""));
    assert_eq!(s.executable.as_deref(), Some("/usr/bin/redis-server"));

    let r = &i.replication;
    assert_eq!(r.role, Some(InfoRole::Primary));
    assert!(!r.is_replica());
    assert_eq!(r.connected_replicas, 2);
    assert_eq!(r.good_replicas, Some(2));
    assert_eq!(
        r.replicas,
        vec![
            indexed(0, line("127.0.0.1", 53655, "online", Some(180), Some(0))),
            indexed(1, line("127.0.0.1", 42537, "online", Some(180), Some(0))),
        ]
    );
    assert_eq!(r.failover_state.as_deref(), Some("no-failover"));
    assert_eq!(
        r.replid.as_deref(),
        Some("820dbf86680455f0c40e4d3cd90d702c87e3a352")
    );
    assert_eq!(
        r.replid2.as_deref(),
        Some("0000000000000000000000000000000000000000")
    );
    assert_eq!(r.previous_replid(), None);
    assert_eq!(r.offset, Some(180));
    assert_eq!(r.second_offset, Some(-1));
    assert_eq!(r.backlog_active, Some(true));
    assert_eq!(r.backlog_size, Some(1_048_576));
    assert_eq!(r.backlog_first_byte_offset, Some(1));
    assert_eq!(r.backlog_histlen, Some(180));
    // Replica-side fields are absent on a primary.
    assert_eq!(
        (r.master_host.as_ref(), r.link_up, r.replica_offset),
        (None, None, None)
    );

    assert_eq!(dbs(&i), vec![(0, 2, 1), (2, 1, 0)]);
    assert_eq!(i.keyspace[0].avg_ttl, Some(3_598_876));
    assert_eq!(i.total_keys(), 3);
    assert_eq!(i.memory.used_memory, Some(1_156_520));
    assert_eq!(i.memory.used_memory_rss, Some(12_398_592));
    assert_eq!(i.memory.maxmemory, Some(0));
    assert_eq!(i.memory.maxmemory_policy.as_deref(), Some("noeviction"));
    assert_eq!((i.clients.connected, i.clients.blocked), (Some(1), Some(0)));
    assert_eq!(i.stats.total_commands_processed, Some(39));
    assert_eq!(i.stats.instantaneous_ops_per_sec, Some(9));
    assert_eq!(
        (
            i.stats.sync_full,
            i.stats.sync_partial_ok,
            i.stats.sync_partial_err
        ),
        (Some(2), Some(0), Some(0))
    );
    let p = &i.persistence;
    assert!(!p.loading && !p.bgsave_in_progress && !p.child_active());
    assert_eq!(p.last_bgsave_ok, Some(true));
    assert!(!p.bgsave_failed());
    assert_eq!(p.last_save_time, Some(1_795_269_554));
    assert_eq!(p.saves, Some(0));
    assert_eq!(p.changes_since_last_save, Some(3));
    assert_eq!(p.aof_last_write_ok, Some(true));
    assert_eq!(p.aof_last_bgrewrite_ok, Some(true));

    // Unknown fields stay in `raw`, by lowercase section.
    assert_eq!(i.field("memory", "mem_allocator"), Some("jemalloc-5.3.0"));
    assert_eq!(i.field("replication", "role"), Some("master"));
    assert!(i.raw.contains_section("cpu") && i.raw.contains_section("keyspace"));
}

#[test]
fn recorded_replica_with_a_sub_replica() {
    let i = load("redis-7.0-replica.txt");
    let r = &i.replication;
    assert_eq!(r.role, Some(InfoRole::Replica));
    assert!(r.is_replica());
    assert_eq!(r.master_host.as_deref(), Some("127.0.0.1"));
    assert_eq!(r.master_port, Some(34307));
    assert_eq!(r.link_up, Some(true));
    assert_eq!(r.last_io_seconds_ago, Some(3));
    assert!(!r.sync_in_progress);
    assert_eq!(r.replica_offset, Some(180));
    assert_eq!(r.replica_read_offset, Some(180));
    assert_eq!(r.link_down_since_seconds, None);
    assert_eq!(r.priority, Some(100));
    assert_eq!(r.read_only, Some(true));
    assert_eq!(r.announced, Some(true));
    assert_eq!(r.connected_replicas, 1);
    assert_eq!(
        r.replicas,
        vec![line("127.0.0.1", 60741, "online", Some(180), Some(1))]
    );
    // Same history as its primary.
    assert_eq!(
        r.replid.as_deref(),
        Some("820dbf86680455f0c40e4d3cd90d702c87e3a352")
    );
    assert_eq!(r.offset, Some(180));
    assert_eq!(i.server.tcp_port, Some(53655));
    assert_eq!(dbs(&i), vec![(0, 2, 1), (2, 1, 0)]);
}

#[test]
fn recorded_chained_replica() {
    let i = load("redis-7.0-chained-replica.txt");
    let r = &i.replication;
    assert_eq!(r.role, Some(InfoRole::Replica));
    // Its upstream is the replica on 53655, not the root primary.
    assert_eq!(r.master_port, Some(53655));
    assert_eq!(r.link_up, Some(true));
    assert_eq!(r.last_io_seconds_ago, Some(2));
    assert_eq!(r.replica_offset, Some(180));
    assert_eq!(r.connected_replicas, 0);
    assert!(r.replicas.is_empty());
    // The root's replid, through the chain.
    assert_eq!(
        r.replid.as_deref(),
        Some("820dbf86680455f0c40e4d3cd90d702c87e3a352")
    );
    assert_eq!(i.server.tcp_port, Some(60741));
    assert_eq!(
        i.server.run_id.as_deref(),
        Some("ea90f600b71341950bd094fd712247ed37da69e0")
    );
}

#[test]
fn recorded_replica_whose_primary_died() {
    let i = load("redis-7.0-replica-link-down.txt");
    let r = &i.replication;
    assert_eq!(r.role, Some(InfoRole::Replica));
    assert_eq!(r.link_up, Some(false));
    assert_eq!(r.last_io_seconds_ago, Some(-1));
    assert_eq!(r.link_down_since_seconds, Some(1));
    assert_eq!(r.replica_offset, Some(180));
    assert_eq!(r.master_port, Some(34307));
    // It still relays to its own sub-replica.
    assert_eq!(
        r.replicas,
        vec![line("127.0.0.1", 60741, "online", Some(180), Some(1))]
    );
}

#[test]
fn recorded_promoted_replica_keeps_the_old_history_as_replid2() {
    let i = load("redis-7.0-promoted-replica.txt");
    let r = &i.replication;
    assert_eq!(r.role, Some(InfoRole::Primary));
    assert_eq!(
        r.replid.as_deref(),
        Some("389d3c72e0873b5932a254578447175a7a203677")
    );
    assert_eq!(
        r.previous_replid(),
        Some("820dbf86680455f0c40e4d3cd90d702c87e3a352")
    );
    assert_eq!(r.offset, Some(180));
    assert_eq!(r.second_offset, Some(181));
    // The chained replica re-attached; its ACK had not arrived yet.
    assert_eq!(
        r.replicas,
        vec![line("127.0.0.1", 60741, "online", Some(0), Some(0))]
    );
    assert_eq!(i.stats.sync_partial_ok, Some(1));
    assert_eq!(i.server.tcp_port, Some(53655));
}

#[test]
fn recorded_replica_never_connected() {
    let i = load("redis-7.0-replica-never-connected.txt");
    let r = &i.replication;
    assert_eq!(r.role, Some(InfoRole::Replica));
    assert_eq!(r.master_port, Some(56295));
    assert_eq!(r.link_up, Some(false));
    // -1 is "never up since it became a replica", not zero seconds.
    assert_eq!(r.link_down_since_seconds, Some(-1));
    assert_eq!(r.last_io_seconds_ago, Some(-1));
    assert_eq!(r.replica_offset, Some(0));
    assert!(!r.sync_in_progress);
    assert!(i.keyspace.is_empty());
}

#[test]
fn recorded_slow_bgsave() {
    let i = load("redis-7.0-bgsave-in-progress.txt");
    let p = &i.persistence;
    assert!(p.bgsave_in_progress);
    assert!(p.child_active());
    assert_eq!(p.keys_processed, Some(14_337));
    assert_eq!(p.keys_total, Some(200_000));
    assert_eq!(p.current_bgsave_time_sec, Some(4));
    assert_eq!(p.last_bgsave_ok, Some(true));
    assert_eq!(p.saves, Some(1));
    assert_eq!(p.last_save_time, Some(1_795_269_562));
    assert_eq!(dbs(&i), vec![(0, 200_000, 0)]);
}

#[test]
fn recorded_failed_bgsave() {
    let i = load("redis-7.0-bgsave-failed.txt");
    let p = &i.persistence;
    assert!(!p.bgsave_in_progress);
    assert_eq!(p.last_bgsave_ok, Some(false));
    assert!(p.bgsave_failed());
    assert_eq!(p.saves, Some(1));
    assert_eq!(p.changes_since_last_save, Some(1));
    assert_eq!(p.last_save_time, Some(1_795_269_567));
    assert_eq!(p.current_bgsave_time_sec, Some(-1));
    assert_eq!(p.aof_last_write_ok, Some(true));
    assert_eq!(i.replication.role, Some(InfoRole::Primary));
}

#[test]
fn recorded_full_sync_both_sides() {
    let m = load("redis-7.0-primary-full-sync.txt");
    assert_eq!(
        m.replication.replicas,
        vec![line("127.0.0.1", 57753, "wait_bgsave", Some(0), Some(0))]
    );
    assert!(m.persistence.bgsave_in_progress);
    assert_eq!(m.persistence.keys_total, Some(300_000));
    assert_eq!(m.stats.sync_full, Some(1));
    assert_eq!(m.stats.sync_partial_err, Some(1));

    let r = load("redis-7.0-replica-full-sync.txt").replication;
    assert_eq!(r.master_port, Some(41955));
    assert_eq!(r.link_up, Some(false));
    assert!(r.sync_in_progress);
    assert_eq!(r.sync_total_bytes, Some(0));
    assert_eq!(r.sync_read_bytes, Some(163_902));
    assert_eq!(r.sync_left_bytes, Some(-163_902));
    assert_eq!(r.sync_perc, Some(0.0));
    assert_eq!(r.sync_last_io_seconds_ago, Some(0));
    assert_eq!(r.link_down_since_seconds, Some(-1));
    assert_eq!(r.replica_offset, Some(0));
}

#[test]
fn recorded_replica_loading() {
    let i = load("redis-7.0-replica-loading.txt");
    let p = &i.persistence;
    assert!(p.loading);
    assert!(!p.async_loading);
    assert_eq!(p.loading_perc, Some(2.01));
    assert_eq!(p.loading_eta_seconds, Some(48));
    let r = &i.replication;
    assert!(r.sync_in_progress);
    assert_eq!(r.link_up, Some(false));
    assert_eq!(r.replica_offset, Some(1));
    assert_eq!(r.sync_read_bytes, Some(9_789_111));
    assert_eq!(r.sync_last_io_seconds_ago, Some(1));
    assert_eq!(
        i.field("persistence", "loading_total_bytes"),
        Some("9789071")
    );
    assert_eq!(dbs(&i), vec![(0, 6020, 0)]);
}

#[test]
fn recorded_keyspace_with_several_databases() {
    let i = load("redis-7.0-keyspace.txt");
    assert_eq!(dbs(&i), vec![(0, 6, 1), (3, 2, 1), (12, 1, 0)]);
    assert_eq!(i.total_keys(), 9);
    assert_eq!(i.keyspace[1].avg_ttl, Some(499_846));
    assert_eq!(i.keyspace[2].subexpiry, None);
}

#[test]
fn redis_2_6_positional_replica_lines() {
    let i = load("redis-2.6-primary.constructed.txt");
    assert_eq!(i.server.version.as_deref(), Some("2.6.17"));
    assert!(!i.server.at_least(2, 8));
    let r = &i.replication;
    assert_eq!(r.role, Some(InfoRole::Primary));
    assert_eq!(r.connected_replicas, 2);
    assert_eq!(
        r.replicas,
        vec![
            indexed(0, line("10.0.0.11", 6379, "online", None, None)),
            indexed(1, line("10.0.0.12", 6380, "send_bulk", None, None)),
        ]
    );
    assert_eq!((r.offset, r.replid.as_ref()), (None, None));
    assert_eq!(dbs(&i), vec![(0, 1500, 20), (1, 3, 0)]);
    assert_eq!(i.keyspace[0].avg_ttl, None);
    assert_eq!(i.clients.blocked, Some(1));
    assert_eq!(i.persistence.aof_last_write_ok, None);

    let r = load("redis-2.6-replica.constructed.txt").replication;
    assert_eq!(r.role, Some(InfoRole::Replica));
    assert_eq!(r.master_host.as_deref(), Some("10.0.0.10"));
    assert_eq!(r.link_up, Some(false));
    assert_eq!(r.link_down_since_seconds, Some(25));
    assert_eq!(r.replica_offset, None);
}

#[test]
fn redis_2_8_and_3_2_offsets_without_replid() {
    let i = load("redis-2.8-replica.constructed.txt");
    let r = &i.replication;
    assert_eq!(r.master_host.as_deref(), Some("redis-a.internal"));
    assert_eq!(r.link_up, Some(true));
    assert_eq!(r.replica_offset, Some(5_523_907));
    assert_eq!(r.replica_read_offset, None);
    assert_eq!((r.replid.as_ref(), r.second_offset), (None, None));
    assert_eq!(
        i.server.config_file.as_deref(),
        Some("/etc/redis/redis.conf")
    );

    let i = load("redis-3.2-primary.constructed.txt");
    assert!(i.server.at_least(3, 2) && !i.server.at_least(4, 0));
    let r = &i.replication;
    assert_eq!(r.offset, Some(73_200_330));
    assert_eq!(r.good_replicas, Some(2));
    assert_eq!(
        r.replicas,
        vec![
            indexed(
                0,
                line("10.0.0.21", 6379, "online", Some(73_200_330), Some(0))
            ),
            indexed(
                1,
                line("10.0.0.22", 6379, "online", Some(73_200_116), Some(1))
            ),
        ]
    );
    assert_eq!(r.backlog_first_byte_offset, Some(72_151_755));
    assert_eq!(i.memory.maxmemory, Some(1_073_741_824));
    assert_eq!(i.memory.maxmemory_policy.as_deref(), Some("allkeys-lru"));
    assert!(i.persistence.aof_enabled);
    assert_eq!(i.stats.sync_partial_ok, Some(7));
    assert_eq!(i.total_keys(), 400_012);
}

#[test]
fn redis_4_0_and_5_0_psync2_ids() {
    let r = load("redis-4.0-promoted.constructed.txt").replication;
    assert_eq!(r.role, Some(InfoRole::Primary));
    assert_eq!(
        r.replid.as_deref(),
        Some("6c3f579ae308095f9c440a5189efc94a32ea2041")
    );
    assert_eq!(
        r.previous_replid(),
        Some("ccbcedb46159505c68cc9dc48e9d0c2381f12641")
    );
    assert_eq!(r.second_offset, Some(73_200_331));

    let i = load("redis-5.0-replica.constructed.txt");
    let r = &i.replication;
    assert_eq!(r.role, Some(InfoRole::Replica));
    assert_eq!(
        (r.master_host.as_deref(), r.master_port),
        (Some("10.0.0.22"), Some(6380))
    );
    assert_eq!(r.replica_offset, Some(73_211_007));
    assert_eq!(r.priority, Some(0));
    assert_eq!(r.announced, None);
    assert_eq!(r.second_offset, Some(73_200_331));
    assert!(i.server.at_least(5, 0) && !i.server.at_least(6, 2));
}

#[test]
fn redis_6_2_failover_and_sized_sync() {
    let i = load("redis-6.2-primary-failover.constructed.txt");
    assert_eq!(
        i.replication.failover_state.as_deref(),
        Some("waiting-for-sync")
    );
    assert_eq!(i.replication.replicas.len(), 2);
    assert_eq!(i.replication.replicas[1].offset, Some(2_300_871));
    assert_eq!(i.server.time_usec, Some(1_795_266_348_283_000));
    assert!(!i.persistence.module_fork_in_progress);

    let r = load("redis-6.2-replica-full-sync.constructed.txt").replication;
    assert!(r.sync_in_progress);
    assert_eq!(r.sync_total_bytes, Some(24_539_760));
    assert_eq!(r.sync_read_bytes, Some(10_348_544));
    assert_eq!(r.sync_left_bytes, Some(14_191_216));
    assert_eq!(r.sync_perc, Some(42.17));
    assert_eq!(r.announced, Some(true));
    assert_eq!(r.backlog_active, Some(false));
}

#[test]
fn redis_7_4_subexpiry() {
    let i = load("redis-7.4-primary.constructed.txt");
    assert_eq!(i.server.version_triple(), Some((7, 4, 1)));
    assert_eq!(dbs(&i), vec![(0, 7, 2), (1, 1, 0)]);
    assert_eq!(i.keyspace[0].subexpiry, Some(1));
    assert_eq!(i.keyspace[0].avg_ttl, Some(59_000));
    assert_eq!(i.keyspace[1].subexpiry, Some(0));
    assert_eq!(i.persistence.saves, Some(2));
}

#[test]
fn valkey_7_2_is_valkey_despite_redis_version() {
    let i = load("valkey-7.2-replica.constructed.txt");
    assert_eq!(i.server.product, Product::Valkey);
    assert_eq!(i.server.version.as_deref(), Some("7.2.7"));
    assert_eq!(i.server.mode.as_deref(), Some("standalone"));
    assert_eq!(i.field("server", "redis_version"), Some("7.2.4"));
    let r = &i.replication;
    assert_eq!(r.master_host.as_deref(), Some("valkey-0.valkey"));
    assert_eq!(r.replica_offset, Some(9812));
}

#[test]
fn valkey_8_0_type_and_server_mode() {
    let i = load("valkey-8.0-primary.constructed.txt");
    assert_eq!(i.server.product, Product::Valkey);
    assert_eq!(i.server.version.as_deref(), Some("8.0.1"));
    assert_eq!(i.server.mode.as_deref(), Some("standalone"));
    let r = &i.replication;
    assert_eq!(
        r.replicas,
        vec![
            ReplicaLine {
                kind: Some("replica".into()),
                ..line("10.0.0.51", 6379, "online", Some(52_000), Some(0))
            },
            ReplicaLine {
                index: 1,
                kind: Some("rdb-channel".into()),
                ..line("10.0.0.52", 6379, "wait_bgsave", Some(0), Some(0))
            },
        ]
    );
    assert_eq!(i.field("replication", "replicas_waiting_psync"), Some("1"));
    assert_eq!(i.clients.blocked, Some(2));
    assert_eq!(i.memory.maxmemory_policy.as_deref(), Some("volatile-lru"));
    assert!(i.persistence.bgsave_in_progress);
    assert_eq!(i.persistence.current_bgsave_time_sec, Some(2));
}

#[test]
fn valkey_9_1_listeners_and_volatile_items() {
    let i = load("valkey-9.1-primary.constructed.txt");
    assert_eq!(i.server.product, Product::Valkey);
    assert_eq!(i.server.version.as_deref(), Some("9.1.2"));
    assert_eq!(
        i.server.run_id.as_deref(),
        Some("d87219e24adc31f0c67838f0b6123d51923b70f4")
    );
    assert_eq!(
        i.field("server", "listener0"),
        Some("name=tcp,bind=127.0.0.1,port=17401")
    );
    let r = &i.replication;
    assert_eq!(r.backlog_size, Some(10_485_760));
    assert_eq!(r.replicas.len(), 1);
    assert_eq!(r.replicas[0].kind.as_deref(), Some("replica"));
    assert_eq!(r.replicas[0].port, 17402);
    assert_eq!(dbs(&i), vec![(0, 3, 1)]);
    assert_eq!(i.keyspace[0].volatile_items, Some(0));

    let r = load("valkey-9.1-replica.constructed.txt").replication;
    assert_eq!(r.role, Some(InfoRole::Replica));
    assert_eq!(r.master_port, Some(17401));
    assert_eq!(r.link_up, Some(true));
    assert_eq!(
        (r.replica_offset, r.replica_read_offset),
        (Some(14), Some(14))
    );
    assert_eq!(
        r.replid.as_deref(),
        Some("b41ee459fe10541df697a82727d4f7d6afba1cb6")
    );
}

#[test]
fn recorded_valkey_9_1_primary_and_replica() {
    let i = load("valkey-9.1-primary.txt");
    let s = &i.server;
    assert_eq!(s.product, Product::Valkey);
    assert_eq!(s.version.as_deref(), Some("9.1.2"));
    assert_eq!(s.version_triple(), Some((9, 1, 2)));
    assert!(s.at_least(7, 0));
    assert_eq!(s.mode.as_deref(), Some("standalone"));
    assert_eq!(i.field("server", "redis_version"), Some("7.2.4"));
    assert_eq!(
        s.run_id.as_deref(),
        Some("a922c63cc2aad720790beae190753d35cbce06f3")
    );
    assert_eq!(s.tcp_port, Some(34017));
    assert_eq!(s.process_id, Some(31376));
    assert_eq!(
        i.field("server", "listener0"),
        Some("name=tcp,bind=127.0.0.1,port=34017")
    );
    assert_eq!(i.field("server", "availability_zone"), Some(""));
    let r = &i.replication;
    assert_eq!(r.role, Some(InfoRole::Primary));
    assert_eq!(r.connected_replicas, 1);
    assert_eq!(
        r.replicas,
        vec![ReplicaLine {
            kind: Some("replica".into()),
            ..line("127.0.0.1", 50819, "online", Some(243), Some(1))
        }]
    );
    assert_eq!(
        r.replid.as_deref(),
        Some("2ae59851dd13fbc57cdc2271adc05c5d03805a6b")
    );
    assert_eq!(r.offset, Some(243));
    assert_eq!(r.backlog_size, Some(10_485_760));
    assert_eq!(dbs(&i), vec![(0, 3, 1)]);
    assert_eq!(i.keyspace[0].avg_ttl, Some(999_436));
    assert_eq!(i.keyspace[0].volatile_items, Some(1));
    assert_eq!(i.stats.sync_full, Some(1));
    assert_eq!(i.persistence.last_bgsave_ok, Some(true));
    assert_eq!(
        i.field("persistence", "slot_migration_fork_in_progress"),
        Some("0")
    );

    let i = load("valkey-9.1-replica.txt");
    assert_eq!(i.server.product, Product::Valkey);
    assert_eq!(
        i.server.run_id.as_deref(),
        Some("68d32ac4ffceb02e5152b5b52ba063d85dbe4ba4")
    );
    let r = &i.replication;
    assert_eq!(r.role, Some(InfoRole::Replica));
    assert_eq!(
        (r.master_host.as_deref(), r.master_port),
        (Some("127.0.0.1"), Some(34017))
    );
    assert_eq!(r.link_up, Some(true));
    assert_eq!(r.last_io_seconds_ago, Some(2));
    assert_eq!(
        (r.replica_offset, r.replica_read_offset),
        (Some(243), Some(243))
    );
    assert_eq!(r.announced, Some(true));
    assert_eq!(
        r.replid.as_deref(),
        Some("2ae59851dd13fbc57cdc2271adc05c5d03805a6b")
    );
    assert_eq!(
        i.field("replication", "replicas_repl_buffer_size"),
        Some("0")
    );
    assert_eq!(dbs(&i), vec![(0, 3, 1)]);
}
