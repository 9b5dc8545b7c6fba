//! Redis Cluster against real servers: the sandbox's `3x1` cluster (formed by redops itself),
//! the cluster view and its anomalies as the topology shows them, and the faults that make a
//! cluster fail over by itself or go down.
//!
//! Every test starts its own small cluster with a short `cluster-node-timeout`, so the faults
//! of one test never reach another.

use std::time::{Duration, Instant};

use redops::cluster::{self, NodeReport};
use redops::config::Node;
use redops::node::{NodeClient, Timeouts};
use redops::sandbox::{ClusterShape, Sandbox, Spec};

/// Short enough that a failover takes a few seconds, long enough for two busy cores.
const NODE_TIMEOUT: Duration = Duration::from_millis(1500);

pub async fn start(primaries: usize, replicas: usize) -> Sandbox {
    let shape = ClusterShape {
        primaries,
        replicas,
        node_timeout: NODE_TIMEOUT,
    };
    Sandbox::start_cluster(shape, &Spec::default())
        .await
        .expect("a sandbox cluster")
}

fn client(n: &Node) -> NodeClient {
    let t = Timeouts {
        connect: Duration::from_millis(500),
        read: Duration::from_secs(2),
    };
    NodeClient::new(n, t, "redops-test").expect("client")
}

async fn report(n: &Node) -> NodeReport {
    cluster::read(&mut client(n)).await
}

fn gone(pid: u32) -> bool {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid fits"));
    nix::sys::signal::kill(pid, None) == Err(nix::errno::Errno::ESRCH)
}

#[tokio::test]
async fn sandbox_forms_a_3x1_cluster_and_kills_it_by_pid() {
    let started = Instant::now();
    let sb = start(3, 1).await;
    println!("3x1 cluster formed in {:?}", started.elapsed());
    let config = sb.config();
    assert_eq!(config.groups.len(), 1);
    let g = &config.groups[0];
    assert!(g.cluster, "written as a cluster group");
    assert_eq!(g.preferred_primary, None);
    assert_eq!(g.nodes.len(), 6);
    assert!(sb.config_toml().contains("cluster = true"));
    let mut ids = Vec::new();
    for n in &g.nodes {
        let r = report(n).await;
        assert_eq!(r.error, None);
        assert_eq!(r.info.state_ok, Some(true), "{}", n.name);
        assert_eq!(r.nodes.nodes.len(), 6);
        assert!(r.nodes.bad_lines.is_empty());
        ids.push(r.nodes.myself().expect("myself").id.clone());
    }
    // n4 replicates n1, n5 n2, n6 n3; the primaries share the slots in order.
    let r = report(&g.nodes[0]).await;
    for (replica, primary) in [(3, 0), (4, 1), (5, 2)] {
        let n = r.nodes.by_id(&ids[replica]).expect("replica known");
        assert_eq!(n.primary_id.as_ref(), Some(&ids[primary]));
    }
    let slots: Vec<u32> = (0..3)
        .map(|i| r.nodes.by_id(&ids[i]).expect("primary").slot_count())
        .collect();
    assert_eq!(slots, [5461, 5461, 5462]);
    let pids: Vec<u32> = sb.nodes().iter().map(|n| n.pid).collect();
    drop(sb);
    assert!(pids.iter().all(|&p| gone(p)), "every server killed on drop");
}
