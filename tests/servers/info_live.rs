//! The INFO parser against live redis-server processes (the installed version, whatever it is):
//! a primary and its replica, fetched with a plain RESP client and parsed, must agree with each
//! other and with how they were started. Catches drift between the recorded fixtures and the
//! server CI actually runs. Servers come from the sandbox: free 127.0.0.1 ports in temp dirs,
//! killed by PID on drop, also when an assertion panics.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::server::Server;

use redops::info::{parse, Info, InfoRole, Product};

/// One `INFO` over a raw RESP connection, with timeouts; `None` on any failure.
fn try_info(port: u16) -> Option<Info> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().ok()?,
        Duration::from_secs(1),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"*1\r\n$4\r\nINFO\r\n").ok()?;
    let mut r = BufReader::new(s);
    let mut header = String::new();
    r.read_line(&mut header).ok()?;
    let size: usize = header.trim_end().strip_prefix('$')?.parse().ok()?;
    let mut body = vec![0; size];
    r.read_exact(&mut body).ok()?;
    Some(parse(&String::from_utf8_lossy(&body)))
}

fn info(port: u16) -> Info {
    try_info(port).unwrap_or_else(|| panic!("INFO failed on port {port}"))
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for: {what}");
}

#[test]
fn live_primary_and_replica_parse_consistently() {
    let primary = Server::start(&[]);
    let replica = Server::start(&["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    wait_until("replica link up and listed online", || {
        let r = info(replica.port).replication;
        let m = info(primary.port).replication;
        r.link_up == Some(true) && m.replicas.iter().any(|l| l.state == "online")
    });

    // Replica first: offsets only grow, so its offset cannot pass the primary's read later.
    let r = info(replica.port);
    let m = info(primary.port);
    for i in [&m, &r] {
        assert_eq!(i.server.product, Product::Redis);
        assert!(
            i.server.version_triple().is_some(),
            "{:?}",
            i.server.version
        );
        assert_eq!(i.server.mode.as_deref(), Some("standalone"));
        assert_eq!(i.server.run_id.as_ref().map(String::len), Some(40));
        assert!(i.raw.contains_section("server") && i.raw.contains_section("replication"));
    }
    assert_eq!(m.server.tcp_port, Some(primary.port));
    assert_eq!(m.server.process_id, Some(primary.pid()));
    assert_eq!(r.server.tcp_port, Some(replica.port));

    assert_eq!(m.replication.role, Some(InfoRole::Primary));
    assert_eq!(m.replication.connected_replicas, 1);
    let line = &m.replication.replicas[0];
    assert_eq!((line.index, line.ip.as_str()), (0, "127.0.0.1"));
    assert_eq!(line.port, replica.port);

    let rr = &r.replication;
    assert!(rr.is_replica());
    assert_eq!(rr.master_host.as_deref(), Some("127.0.0.1"));
    assert_eq!(rr.master_port, Some(primary.port));
    assert_eq!(rr.link_up, Some(true));
    assert_eq!(rr.link_down_since_seconds, None);
    assert_eq!(rr.replid, m.replication.replid);
    assert!(rr.replica_offset.is_some() && rr.replica_offset <= m.replication.offset);
    assert!(!m.persistence.bgsave_failed() && !m.persistence.loading);
}
