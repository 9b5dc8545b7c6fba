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

    let fleet = SyntheticFleet::new(150, 2, 50, &primary, &replica);
    let points = if quick { 20 } else { 600 };
    let before = super::rss_mb();
    let history = fill(&fleet, points);
    let after = super::rss_mb();
    let held = fleet.observations.len() * points;
    println!(
        "history: {held} points ({} nodes x {points}) took {:.1} MB of RSS: {:.0} bytes per point",
        fleet.observations.len(),
        after - before,
        (after - before) * 1024.0 * 1024.0 / held as f64
    );
    time_build(
        "150 groups of 3 + 50 unresponsive",
        &fleet,
        &history,
        points,
        builds,
    );
    let wide = SyntheticFleet::new(1, 199, 0, &primary, &replica);
    let history = fill(&wide, points.min(60));
    time_build(
        "1 group of 1 primary + 199 replicas",
        &wide,
        &history,
        points.min(60),
        builds,
    );
}

fn fill(fleet: &SyntheticFleet, points: usize) -> History {
    let mut history = History::new(points);
    for k in 0..points {
        let at = T0 + Duration::from_secs(k as u64);
        for obs in &fleet.observations {
            let mut o = obs.clone();
            o.at = at;
            history.record(&o);
        }
    }
    history
}

fn time_build(what: &str, fleet: &SyntheticFleet, history: &History, points: usize, builds: u32) {
    let mut state = FleetState::new(&fleet.config);
    for o in &fleet.observations {
        state.apply(o.clone());
    }
    let now = T0 + Duration::from_secs(points as u64);
    let mut times = Vec::new();
    for _ in 0..builds {
        let t = Instant::now();
        let topo = redops::topology::build(&fleet.config, &state, history, now);
        times.push(t.elapsed());
        black_box(topo);
    }
    times.sort();
    let topo = redops::topology::build(&fleet.config, &state, history, now);
    let anomalies: usize = topo.groups.iter().map(|g| g.anomalies.len()).sum();
    // A digest of the whole output, to check that a faster build gives the same topology.
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&format!("{topo:?}"), &mut h);
    println!(
        "topology::build, {what} ({} nodes): median {:.3} ms, max {:.3} ms ({anomalies} anomalies, \
         digest {:016x})",
        fleet.observations.len(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        std::hash::Hasher::finish(&h)
    );
}

const T0: SystemTime = SystemTime::UNIX_EPOCH;

/// Groups of a primary and its replicas (INFO from the recorded 7.0 replies, ports rewritten
/// to match the config), plus unresponsive nodes spread over the groups.
struct SyntheticFleet {
    config: Config,
    observations: Vec<Observation>,
}

impl SyntheticFleet {
    fn new(groups: usize, replicas: usize, dead: usize, primary: &str, replica: &str) -> Self {
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
        let at = T0;
        let mut observations = Vec::new();
        let mut cfg_groups = Vec::new();
        for g in 0..groups {
            let stride = replicas + 1 + dead.div_ceil(groups);
            let base = u16::try_from(10_000 + stride * g).expect("port");
            let mut nodes = vec![node("p".into(), base)];
            // Replicas a little behind so lag in seconds is looked up in the history.
            let offset = 1_000_000 + g as u64;
            let mut lines = format!("connected_slaves:{replicas}\r\n");
            let mut infos = Vec::new();
            for r in 0..replicas {
                let port = base + 1 + u16::try_from(r).expect("port");
                nodes.push(node(format!("r{}", r + 1), port));
                lines.push_str(&format!(
                    "slave{r}:ip=127.0.0.1,port={port},state=online,offset={offset},lag=0\r\n"
                ));
                infos.push(replica_text(
                    replica,
                    port,
                    base,
                    offset - (r as u64 % 2) * 10,
                ));
            }
            let primary = primary
                .replace("tcp_port:34307", &format!("tcp_port:{base}"))
                .replace(
                    "connected_slaves:2\r\nmin_slaves_good_slaves:2\r\nslave0:ip=127.0.0.1,port=53655,state=online,offset=180,lag=0\r\n\
                     slave1:ip=127.0.0.1,port=42537,state=online,offset=180,lag=0\r\n",
                    &lines,
                )
                .replace("master_repl_offset:180", &format!("master_repl_offset:{offset}"));
            assert!(primary.contains(&lines), "fixture changed");
            infos.insert(0, primary);
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
                let port = base + 1 + u16::try_from(replicas + d).expect("port");
                nodes.push(node(format!("dead{d}"), port));
                observations.push(Observation {
                    id: NodeId {
                        group: g,
                        node: 1 + replicas + d,
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
