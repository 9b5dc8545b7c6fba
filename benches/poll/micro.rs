//! Micro-benchmarks without servers (`cargo bench --bench poll -- micro`): the INFO parser on
//! recorded 7.0 replies, `topology::build` on a synthetic 500-node fleet, and the memory a full
//! history costs per point. Repeatable enough to run under `valgrind --tool=callgrind` for
//! instruction counts (`micro quick` runs few iterations for that).

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use redops::config::{Addr, Config, Console, Group, LagThresholds, Node};
use redops::history::History;
use redops::info::parse;
use redops::observe::{FleetState, NodeError, NodeId, Observation};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/info")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs every micro-benchmark; `quick` for a run under callgrind.
pub fn run(quick: bool) {
    let (parses, builds) = if quick { (200, 5) } else { (20_000, 200) };
    let primary = fixture("redis-7.0-primary.txt");
    let replica = fixture("redis-7.0-replica.txt");
    for (name, text) in [("primary", &primary), ("replica", &replica)] {
        let t = Instant::now();
        for _ in 0..parses {
            black_box(parse(black_box(text)));
        }
        let per = t.elapsed() / parses;
        println!(
            "parse {name} ({} bytes, {} lines): {:.1} us per parse",
            text.len(),
            text.lines().count(),
            per.as_secs_f64() * 1e6
        );
    }

    let fleet = SyntheticFleet::new(150, 50, &primary, &replica);
    let points = if quick { 20 } else { 600 };
    let before = super::rss_mb();
    let mut history = History::new(points);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for k in 0..points {
        let at = t0 + Duration::from_secs(k as u64);
        for obs in &fleet.observations {
            let mut o = obs.clone();
            o.at = at;
            history.record(&o);
        }
    }
    let after = super::rss_mb();
    let held = fleet.observations.len() * points;
    println!(
        "history: {held} points ({} nodes x {points}) took {:.1} MB of RSS: {:.0} bytes per point",
        fleet.observations.len(),
        after - before,
        (after - before) * 1024.0 * 1024.0 / held as f64
    );

    let mut state = FleetState::new(&fleet.config);
    for o in &fleet.observations {
        state.apply(o.clone());
    }
    let now = t0 + Duration::from_secs(points as u64);
    let mut times = Vec::with_capacity(builds);
    for _ in 0..builds {
        let t = Instant::now();
        let topo = redops::topology::build(&fleet.config, &state, &history, now);
        times.push(t.elapsed());
        black_box(topo);
    }
    times.sort();
    let topo = redops::topology::build(&fleet.config, &state, &history, now);
    let anomalies: usize = topo.groups.iter().map(|g| g.anomalies.len()).sum();
    println!(
        "topology::build of {} nodes: median {:.2} ms, max {:.2} ms ({anomalies} anomalies)",
        fleet.observations.len(),
        times[builds / 2].as_secs_f64() * 1e3,
        times[builds - 1].as_secs_f64() * 1e3
    );
}

/// Groups of a primary and two replicas (INFO from the recorded 7.0 replies, ports rewritten
/// to match the config), plus unresponsive nodes spread over the groups.
struct SyntheticFleet {
    config: Config,
    observations: Vec<Observation>,
}

impl SyntheticFleet {
    fn new(groups: usize, dead: usize, primary: &str, replica: &str) -> Self {
        let node = |name: String, port: u16| Node {
            name,
            addr: Addr {
                host: "127.0.0.1".into(),
                port,
            },
            username: None,
            password: None,
            tls: None,
        };
        let at = SystemTime::now();
        let mut observations = Vec::new();
        let mut cfg_groups = Vec::new();
        for g in 0..groups {
            let base = u16::try_from(10_000 + 4 * g).expect("port");
            let (p, r1, r2) = (base, base + 1, base + 2);
            let mut nodes = vec![
                node("p".into(), p),
                node("r1".into(), r1),
                node("r2".into(), r2),
            ];
            // Replicas a little behind so lag in seconds is looked up in the history.
            let offset = 1_000_000 + g as u64;
            let infos = [
                primary
                    .replace("tcp_port:34307", &format!("tcp_port:{p}"))
                    .replace("port=53655", &format!("port={r1}"))
                    .replace("port=42537", &format!("port={r2}"))
                    .replace(
                        "master_repl_offset:180",
                        &format!("master_repl_offset:{offset}"),
                    ),
                replica_text(replica, r1, p, offset - 10),
                replica_text(replica, r2, p, offset),
            ];
            for (ni, text) in infos.iter().enumerate() {
                observations.push(Observation {
                    id: NodeId { group: g, node: ni },
                    at,
                    rtt: Duration::from_micros(300),
                    result: Ok(Arc::new(parse(text))),
                });
            }
            let extra = dead / groups + usize::from(g < dead % groups);
            for d in 0..extra {
                nodes.push(node(format!("dead{d}"), base + 3));
                observations.push(Observation {
                    id: NodeId {
                        group: g,
                        node: 3 + d,
                    },
                    at,
                    rtt: Duration::from_millis(500),
                    result: Err(NodeError::Unresponsive(Duration::from_millis(500))),
                });
            }
            cfg_groups.push(Group {
                name: format!("g{g}"),
                env: None,
                read_only: true,
                preferred_primary: Some("p".into()),
                lag: LagThresholds::default(),
                sentinel: None,
                cluster: false,
                nodes,
            });
        }
        Self {
            config: Config {
                console: Console::default(),
                groups: cfg_groups,
                source: None,
            },
            observations,
        }
    }
}

fn replica_text(replica: &str, port: u16, upstream: u16, offset: u64) -> String {
    replica
        .replace("tcp_port:53655", &format!("tcp_port:{port}"))
        .replace("master_port:34307", &format!("master_port:{upstream}"))
        .replace("connected_slaves:1", "connected_slaves:0")
        .replace(
            "slave0:ip=127.0.0.1,port=60741,state=online,offset=180,lag=1\r\n",
            "",
        )
        .replace(
            "slave_repl_offset:180",
            &format!("slave_repl_offset:{offset}"),
        )
        .replace(
            "master_repl_offset:180",
            &format!("master_repl_offset:{offset}"),
        )
}
