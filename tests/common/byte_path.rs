//! The byte path of issue 8.1, shared by the CI proptest (`tests/cli/hostile_bytes.rs`, small
//! budget) and the bulk fuzz run (`examples/fuzz_info.rs`, 10 million inputs): reply bytes
//! -> the driver's RESP parser -> `node::reply::info` (lossy) -> observations of a 3-node
//! group -> topology (twice, and the changes between) -> `status` text and JSON, sanitized.
//!
//! [`check`] panics on any broken property, so a fuzz run only has to count and time it.
//! [`Gen`] makes inputs: random bytes, INFO-shaped lines with hostile values (non-UTF-8,
//! control characters, huge numbers), and mutations of the recorded fixtures, framed as a
//! bulk string (right or wrong length) or not at all.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redops::cli::output::Paint;
use redops::cli::status::{render_text, to_json};
use redops::config::{Addr, Config, Console, Group, Node};
use redops::history::History;
use redops::observe::{FleetState, NodeError, NodeId, Observation};
use redops::sanitize;
use redops::topology;

/// A 3-node group on 127.0.0.1:7001..7003 (the hostile replies often name those).
pub fn config() -> Config {
    let nodes = (0..3u16)
        .map(|i| Node {
            name: format!("n{}", i + 1),
            addr: Addr {
                host: "127.0.0.1".into(),
                port: 7001 + i,
            },
            username: None,
            password: None,
            tls: None,
        })
        .collect();
    Config {
        console: Console::default(),
        groups: vec![Group::new("g", nodes)],
        source: None,
    }
}

/// The reply as the poller would see it.
pub fn read(reply: &[u8]) -> Result<redops::info::Info, NodeError> {
    match redis::parse_redis_value(reply) {
        Ok(v) => redops::node::reply::info(v),
        Err(e) => Err(redops::node::classify(&e, Duration::from_secs(1))),
    }
}

/// Runs `replies[i]` as node i's INFO (missing ones: the first reply again) through the
/// whole path and checks what reaches the terminal. Panics on any broken property.
pub fn check(config: &Config, replies: &[&[u8]]) {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut fleet = FleetState::new(config);
    let mut history = History::new(8);
    let mut prev = topology::build(config, &fleet, &history, t0);
    // Each reply is read once; the second round sees the same answers a second later.
    let results: Vec<Result<Arc<redops::info::Info>, NodeError>> = (0..3)
        .map(|node| {
            let reply = replies
                .get(node)
                .or_else(|| replies.first())
                .copied()
                .unwrap_or_default();
            let result = read(reply);
            if let Err(NodeError::Other(m)) = &result {
                assert!(
                    !m.contains("from UTF-8"),
                    "a reply was refused for its bytes: {m}"
                );
            }
            result.map(Arc::new)
        })
        .collect();
    for round in 0..2u64 {
        for (node, result) in results.iter().enumerate() {
            let obs = Observation {
                id: NodeId { group: 0, node },
                at: t0 + Duration::from_secs(round),
                rtt: Duration::from_millis(1),
                result: result.clone(),
            };
            history.record(&obs);
            fleet.apply(obs);
        }
        let now = t0 + Duration::from_secs(round + 1);
        let mut next = topology::build(config, &fleet, &history, now);
        history.record_lag(&next);
        let _ = topology::changes(&prev, &next, now);
        std::mem::swap(&mut prev, &mut next);
    }
    for line in render_text(config, &prev, Paint::new(false)) {
        let shown = sanitize::terminal_line(&line, false);
        assert!(
            !shown.chars().any(sanitize::is_unsafe),
            "unsafe text reached the terminal: {shown:?}"
        );
    }
    let json = to_json(config, &prev).to_string();
    let shown = sanitize::json_text(&json);
    assert!(
        !shown.chars().any(|c| c != '\n' && sanitize::is_unsafe(c)),
        "unsafe JSON: {shown:?}"
    );
    let back: serde_json::Value = serde_json::from_str(&shown).expect("JSON stays valid");
    assert_eq!(
        back,
        serde_json::from_str::<serde_json::Value>(&json).expect("valid")
    );
}

/// Every recorded INFO fixture, as bytes.
pub fn fixtures() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/info");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "txt"))
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

const FIELDS: &[&str] = &[
    "role",
    "master_host",
    "master_port",
    "master_link_status",
    "slave_repl_offset",
    "master_replid",
    "master_replid2",
    "master_repl_offset",
    "second_repl_offset",
    "connected_slaves",
    "slave0",
    "slave1",
    "db0",
    "redis_version",
    "valkey_version",
    "server_name",
    "tcp_port",
    "run_id",
    "config_file",
    "executable",
    "loading",
    "rdb_last_bgsave_status",
    "rdb_last_save_time",
    "master_sync_in_progress",
    "master_link_down_since_seconds",
    "master_failover_state",
    "used_memory",
    "uptime_in_seconds",
];

const VALUES: &[&[u8]] = &[
    b"master",
    b"slave",
    b"up",
    b"down",
    b"127.0.0.1",
    b"7001",
    b"7002",
    b"0",
    b"-1",
    b"18446744073709551616",
    b"99999999999999999999999",
    b"ip=127.0.0.1,port=7002,state=online,offset=5,lag=0",
    b"ip=10.0.0.\xe9,port=7003,state=online,offset=1,lag=0",
    b"keys=1,expires=0,avg_ttl=0",
    b"ccbcedb46159505c68cc9dc48e9d0c2381f12641",
    b"7.0.15",
    b"x\x1b]0;OWNED\x07\x1b[2J",
    b"\r\x1b[2K\x1b[1Ahealthy",
    b"\xc2\x9b2J",
    b"\xe2\x80\xae",
    b"\xff\xfe",
    b"",
    b":",
    b",",
    b"=",
];

/// A small deterministic generator (xorshift), so a failing input can be replayed by seed.
/// The state is made odd (`seed | 1`), so seeds 2k and 2k+1 give the same inputs: use odd
/// seeds for distinct runs.
pub struct Gen {
    state: u64,
    fixtures: Vec<Vec<u8>>,
}

impl Gen {
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed | 1,
            fixtures: fixtures(),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn random_bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| (self.next_u64() & 0xff) as u8).collect()
    }

    fn info_lines(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..self.below(24) {
            match self.below(10) {
                0 => out.extend_from_slice(b"# Replication"),
                1 => out.extend(self.random_bytes(40)),
                _ => {
                    out.extend_from_slice(FIELDS[self.below(FIELDS.len())].as_bytes());
                    out.push(b':');
                    if self.below(4) == 0 {
                        out.extend(self.random_bytes(24));
                    } else {
                        out.extend_from_slice(VALUES[self.below(VALUES.len())]);
                    }
                }
            }
            out.extend_from_slice(if self.below(8) == 0 { b"\n" } else { b"\r\n" });
        }
        out
    }

    fn mutated_fixture(&mut self) -> Vec<u8> {
        if self.fixtures.is_empty() {
            return self.info_lines();
        }
        let pick = self.below(self.fixtures.len());
        let mut f = self.fixtures[pick].clone();
        for _ in 0..=self.below(8) {
            if f.is_empty() {
                break;
            }
            let at = self.below(f.len());
            match self.below(4) {
                0 => f[at] = (self.next_u64() & 0xff) as u8,
                1 => f.insert(at, [0xe9, 0x1b, 0x9b, b'\r', b'\n', b':'][self.below(6)]),
                2 => {
                    let v = VALUES[self.below(VALUES.len())];
                    f.splice(at..at, v.iter().copied());
                }
                _ => f.truncate(at),
            }
        }
        f
    }

    /// One reply: a body (random, INFO-shaped, or a mutated fixture) in some framing.
    pub fn reply(&mut self) -> Vec<u8> {
        let body = match self.below(3) {
            0 => self.random_bytes(256),
            1 => self.info_lines(),
            _ => self.mutated_fixture(),
        };
        match self.below(10) {
            0 => body,
            1 => {
                // A wrong length: the parser must not trust it.
                let mut out = format!("${}\r\n", body.len() + self.below(5) + 1).into_bytes();
                out.extend(body);
                out
            }
            2 => {
                let mut out = b"*1\r\n".to_vec();
                out.extend(bulk(&body));
                out
            }
            3 => format!(":{}\r\n", self.next_u64()).into_bytes(),
            _ => bulk(&body),
        }
    }
}

fn bulk(b: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", b.len()).into_bytes();
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
    out
}
