//! The `cluster_replica_misplaced` anomaly on real servers: `CLUSTER REPLICATE` moves n4 from
//! n1's shard to n2's. n4 says so on its own line at once; every other node learns it only
//! from n4's next cluster-bus packet to it, so the first polls see n4 placed in two shards.
//! Then gossip settles and the anomaly goes, with no false alarm left behind.

use std::time::{Duration, Instant};

use redops::cluster;
use redops::config::Node;
use redops::sandbox::{ClusterShape, Sandbox, Spec};
use redops::topology::{AnomalyKind, Topology};

use crate::common::cluster_writer::client;

async fn poll(config: &redops::config::Config) -> Topology {
    redops::cli::status::poll(config, None).await
}

async fn myself_id(n: &Node) -> String {
    let r = cluster::read(&mut client(n)).await;
    r.nodes.myself().expect("myself").id.clone()
}

#[tokio::test]
async fn a_replica_moved_to_another_shard_is_misplaced_until_gossip_settles() {
    let shape = ClusterShape {
        primaries: 3,
        replicas: 1,
        node_timeout: Duration::from_secs(60),
    };
    let sb = Sandbox::start_cluster(shape, &Spec::default())
        .await
        .expect("a sandbox cluster");
    let config = sb.config();
    let nodes = &config.groups[0].nodes;
    let n2 = myself_id(&nodes[1]).await;
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("REPLICATE").arg(&n2);
    client(&nodes[3])
        .query::<()>(&cmd)
        .await
        .expect("CLUSTER REPLICATE");

    // Seen while the other nodes still place n4 under n1 (bounded: gossip settles it).
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        let t = poll(&config).await;
        let g = &t.groups[0];
        if let Some(a) = g
            .anomalies
            .iter()
            .find(|a| a.kind == AnomalyKind::ClusterReplicaMisplaced)
        {
            break a.clone();
        }
        let settled = g.cluster.as_ref().is_some_and(|c| {
            c.shards
                .iter()
                .any(|s| s.primary.name == "n2" && s.replicas.iter().any(|r| r.name == "n4"))
        }) && g
            .cluster
            .as_ref()
            .is_some_and(|c| c.disagreements.is_empty());
        assert!(
            !settled,
            "the whole cluster learnt of the move before one poll saw it: {:?}",
            g.anomalies
        );
        assert!(Instant::now() < deadline, "never seen: {:?}", g.anomalies);
    };
    assert_eq!(seen.nodes[..2], ["n4", "n2"], "{seen:?}");
    assert!(
        seen.message
            .starts_with("n4 says it replicates from n2, but "),
        "{}",
        seen.message
    );
    assert!(seen.message.contains("place"), "{}", seen.message);
    assert!(seen.message.contains("under n1"), "{}", seen.message);

    // Settled: n4 in n2's shard in every map, and the anomaly gone.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let t = poll(&config).await;
        let g = &t.groups[0];
        let misplaced = g
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::ClusterReplicaMisplaced);
        let in_n2 = g.cluster.as_ref().is_some_and(|c| {
            c.shards
                .iter()
                .any(|s| s.primary.name == "n2" && s.replicas.iter().any(|r| r.name == "n4"))
        });
        if in_n2 && !misplaced {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled in 30s: {:?}",
            g.anomalies
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
