//! The `CLUSTER NODES` reply, parsed defensively: one line per node,
//! `<id> <ip:port@cport[,hostname[,aux=value]*]> <flags> <primary-id|-> <ping-sent> <pong-recv>
//! <config-epoch> <link-state> <slot>...`. Every byte comes from a server and is untrusted: a
//! line that does not read is kept aside with what is wrong with it, never a panic, and the
//! rest of the reply still counts. Pure: text in, values out.

use std::fmt;

/// Number of hash slots in a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// At most this many lines are read from one reply (a cluster is limited to about 1000 nodes).
const MAX_LINES: usize = 4096;

/// An inclusive range of hash slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotRange {
    pub start: u16,
    pub end: u16,
}

impl SlotRange {
    /// How many slots the range holds.
    #[must_use]
    pub fn len(self) -> u32 {
        u32::from(self.end) - u32::from(self.start) + 1
    }

    /// Never empty: `start <= end` holds for every parsed range.
    #[must_use]
    pub fn is_empty(self) -> bool {
        false
    }
}

impl fmt::Display for SlotRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// The flags of one node line (`myself,master,fail?` …).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub myself: bool,
    pub primary: bool,
    pub replica: bool,
    /// `fail?`: this node's reporter cannot reach it (not yet agreed by a majority).
    pub pfail: bool,
    /// `fail`: a majority of primaries agreed that it is down.
    pub fail: bool,
    pub handshake: bool,
    pub noaddr: bool,
    pub nofailover: bool,
}

impl Flags {
    /// The flags worth showing an operator, in our words.
    #[must_use]
    pub fn words(self) -> Vec<&'static str> {
        [
            (self.fail, "fail"),
            (self.pfail, "pfail"),
            (self.handshake, "handshake"),
            (self.noaddr, "noaddr"),
            (self.nofailover, "nofailover"),
        ]
        .into_iter()
        .filter_map(|(on, w)| on.then_some(w))
        .collect()
    }

    /// Failed, suspected, or not yet (or no longer) a full member.
    #[must_use]
    pub fn is_unhealthy(self) -> bool {
        self.fail || self.pfail || self.handshake || self.noaddr
    }
}

/// A slot being moved, as the node that moves it reports it on its own line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSlot {
    pub slot: u16,
    /// The other side: the node it migrates to, or imports from.
    pub peer: String,
}

/// One node as one reporter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// The 40-hex node id (persistent identity).
    pub id: String,
    /// Empty when the reporter does not know it (`noaddr`, an early handshake).
    pub host: String,
    /// 0 when unknown.
    pub port: u16,
    pub bus_port: Option<u16>,
    /// The announced hostname (7.0+), when set.
    pub hostname: Option<String>,
    pub flags: Flags,
    /// For a replica, its primary's id.
    pub primary_id: Option<String>,
    pub config_epoch: u64,
    /// The reporter's cluster-bus link to it is up.
    pub connected: bool,
    pub slots: Vec<SlotRange>,
    pub migrating: Vec<OpenSlot>,
    pub importing: Vec<OpenSlot>,
}

impl ClusterNode {
    /// `host:port`, or `?` when the address is unknown.
    #[must_use]
    pub fn addr(&self) -> String {
        if self.host.is_empty() || self.port == 0 {
            "?".to_string()
        } else if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Slots it serves.
    #[must_use]
    pub fn slot_count(&self) -> u32 {
        self.slots.iter().map(|r| r.len()).sum()
    }
}

/// A whole `CLUSTER NODES` reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodesReply {
    pub nodes: Vec<ClusterNode>,
    /// Lines that did not read: (1-based line number, what is wrong).
    pub bad_lines: Vec<(usize, String)>,
}

impl NodesReply {
    /// The reporter's own line.
    #[must_use]
    pub fn myself(&self) -> Option<&ClusterNode> {
        self.nodes.iter().find(|n| n.flags.myself)
    }

    /// A node by id.
    #[must_use]
    pub fn by_id(&self, id: &str) -> Option<&ClusterNode> {
        self.nodes.iter().find(|n| n.id == id)
    }
}

/// Parses a `CLUSTER NODES` reply. Total: any text gives a reply, bad lines are listed.
#[must_use]
pub fn parse(text: &str) -> NodesReply {
    let mut out = NodesReply::default();
    for (i, line) in text.lines().enumerate().take(MAX_LINES) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(n) => {
                if out.nodes.iter().any(|m| m.id == n.id) {
                    out.bad_lines
                        .push((i + 1, format!("node id '{}' appears twice", n.id)));
                } else {
                    out.nodes.push(n);
                }
            }
            Err(e) => out.bad_lines.push((i + 1, e)),
        }
    }
    out
}

fn is_node_id(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Shortens outside text quoted in an error (it may be anything, of any length).
fn quoted(s: &str) -> String {
    s.chars().take(48).collect()
}

fn parse_line(line: &str) -> Result<ClusterNode, String> {
    let f: Vec<&str> = line.split_ascii_whitespace().collect();
    if f.len() < 8 {
        return Err(format!("{} fields, expected at least 8", f.len()));
    }
    if !is_node_id(f[0]) {
        return Err(format!("'{}' is not a node id", quoted(f[0])));
    }
    let (host, port, bus_port, hostname) = parse_addr(f[1])?;
    let flags = parse_flags(f[2]);
    let primary_id = match f[3] {
        "-" => None,
        id if is_node_id(id) => Some(id.to_string()),
        other => return Err(format!("'{}' is not a primary id", quoted(other))),
    };
    let number = |s: &str, what: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("{what} '{}' is not a number", quoted(s)))
    };
    number(f[4], "ping-sent")?;
    number(f[5], "pong-recv")?;
    let config_epoch = number(f[6], "config-epoch")?;
    let connected = match f[7] {
        "connected" => true,
        "disconnected" => false,
        other => return Err(format!("link state '{}'", quoted(other))),
    };
    let mut node = ClusterNode {
        id: f[0].to_string(),
        host,
        port,
        bus_port,
        hostname,
        flags,
        primary_id,
        config_epoch,
        connected,
        slots: Vec::new(),
        migrating: Vec::new(),
        importing: Vec::new(),
    };
    for word in &f[8..] {
        parse_slot_word(word, &mut node)?;
    }
    node.slots.sort_unstable();
    Ok(node)
}

/// `ip:port@cport[,hostname[,aux]*]`; `:0@0` (or `:port@cport`) when the reporter does not know
/// the address. The ip may be IPv6 (`::1:7000@17000`): the port is after the last colon.
fn parse_addr(s: &str) -> Result<(String, u16, Option<u16>, Option<String>), String> {
    let mut parts = s.split(',');
    let main = parts.next().unwrap_or_default();
    let hostname = parts
        .next()
        .filter(|h| !h.is_empty() && !h.contains('='))
        .map(str::to_string);
    let (hp, bus) = match main.split_once('@') {
        Some((hp, bus)) => (
            hp,
            Some(
                bus.parse::<u16>()
                    .map_err(|_| format!("bus port '{}' is not a port", quoted(bus)))?,
            ),
        ),
        None => (main, None),
    };
    let (host, port) = hp
        .rsplit_once(':')
        .ok_or_else(|| format!("address '{}' has no port", quoted(hp)))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("port '{}' is not a port", quoted(port)))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_string(), port, bus, hostname))
}

fn parse_flags(s: &str) -> Flags {
    let mut f = Flags::default();
    for w in s.split(',') {
        match w {
            "myself" => f.myself = true,
            "master" => f.primary = true,
            "slave" => f.replica = true,
            "fail?" => f.pfail = true,
            "fail" => f.fail = true,
            "handshake" => f.handshake = true,
            "noaddr" => f.noaddr = true,
            "nofailover" => f.nofailover = true,
            // `noflags`, and flags a later version may add.
            _ => {}
        }
    }
    f
}

fn slot(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(n) if n < SLOTS => Ok(n),
        _ => Err(format!("slot '{}' is not in 0-16383", quoted(s))),
    }
}

/// `N`, `A-B`, `[N->-id]` (migrating) or `[N-<-id]` (importing).
fn parse_slot_word(word: &str, node: &mut ClusterNode) -> Result<(), String> {
    if let Some(inner) = word.strip_prefix('[').and_then(|w| w.strip_suffix(']')) {
        let (n, peer, migrating) = if let Some((n, peer)) = inner.split_once("->-") {
            (n, peer, true)
        } else if let Some((n, peer)) = inner.split_once("-<-") {
            (n, peer, false)
        } else {
            return Err(format!("open slot '{}'", quoted(word)));
        };
        let open = OpenSlot {
            slot: slot(n)?,
            peer: if is_node_id(peer) {
                peer.to_string()
            } else {
                return Err(format!("open slot peer '{}'", quoted(peer)));
            },
        };
        if migrating {
            node.migrating.push(open);
        } else {
            node.importing.push(open);
        }
        return Ok(());
    }
    let range = if let Some((a, b)) = word.split_once('-') {
        SlotRange {
            start: slot(a)?,
            end: slot(b)?,
        }
    } else {
        let n = slot(word)?;
        SlotRange { start: n, end: n }
    };
    if range.start > range.end {
        return Err(format!("slot range '{}' runs backwards", quoted(word)));
    }
    node.slots.push(range);
    Ok(())
}

/// Joins sorted slots into ranges.
#[must_use]
pub fn ranges(slots: impl IntoIterator<Item = u16>) -> Vec<SlotRange> {
    let mut out: Vec<SlotRange> = Vec::new();
    for s in slots {
        match out.last_mut() {
            Some(r) if u32::from(r.end) + 1 == u32::from(s) => r.end = s,
            _ => out.push(SlotRange { start: s, end: s }),
        }
    }
    out
}

/// `0-5460, 5462`: ranges for an operator, at most `max` of them then `(+N more)`.
#[must_use]
pub fn ranges_text(ranges: &[SlotRange], max: usize) -> String {
    let mut s: Vec<String> = ranges.iter().take(max).map(ToString::to_string).collect();
    if ranges.len() > max {
        s.push(format!("(+{} more)", ranges.len() - max));
    }
    s.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEALTHY: &str = "\
d3dd632ef261d0795175aa4d9fff92235208c2fc 127.0.0.1:17205@17305 slave f03b5968da52b00e123660e20f50a6bc88083aa8 0 1795266711606 1 connected
f03b5968da52b00e123660e20f50a6bc88083aa8 127.0.0.1:17201@17301,host-a myself,master - 0 1795266711000 1 connected 0-5460
52b63d740b48f33a9933d66230ad4dd58c6e032d 127.0.0.1:17203@17303 master - 0 1795266711506 3 connected 10923-16383 [10923->-f03b5968da52b00e123660e20f50a6bc88083aa8]
dce7fb1daf1800308545b032814552be64bc902d 127.0.0.1:17202@17302 master,fail - 1795266727677 1795266726672 2 disconnected 5461-10922
";

    #[test]
    fn reads_the_lines_a_server_sends() {
        let r = parse(HEALTHY);
        assert!(r.bad_lines.is_empty(), "{:?}", r.bad_lines);
        assert_eq!(r.nodes.len(), 4);
        let me = r.myself().expect("myself");
        assert_eq!(me.addr(), "127.0.0.1:17201");
        assert_eq!(me.hostname.as_deref(), Some("host-a"));
        assert_eq!(me.slot_count(), 5461);
        let rep = &r.nodes[0];
        assert!(rep.flags.replica && !rep.flags.primary);
        assert_eq!(rep.primary_id.as_deref(), Some(me.id.as_str()));
        let third = &r.nodes[2];
        assert_eq!(third.migrating.len(), 1);
        assert_eq!(third.migrating[0].slot, 10923);
        let failed = &r.nodes[3];
        assert!(failed.flags.fail && !failed.connected);
        assert_eq!(failed.flags.words(), ["fail"]);
        assert_eq!(failed.config_epoch, 2);
    }

    #[test]
    fn odd_addresses_read() {
        let id = "a".repeat(40);
        let r = parse(&format!(
            "{id} :0@0 master,noaddr,fail? - 0 0 0 disconnected\n{} ::1:7000@17000,,shard-id=x slave,nofailover {id} 0 0 0 connected",
            "b".repeat(40)
        ));
        assert!(r.bad_lines.is_empty(), "{:?}", r.bad_lines);
        assert_eq!(r.nodes[0].addr(), "?");
        assert!(r.nodes[0].flags.noaddr && r.nodes[0].flags.pfail);
        assert_eq!(r.nodes[1].addr(), "[::1]:7000");
        assert_eq!(r.nodes[1].hostname, None);
        assert!(r.nodes[1].flags.nofailover);
    }

    #[test]
    fn bad_lines_are_listed_not_fatal() {
        let id = "c".repeat(40);
        let text = format!(
            "garbage\n{id} 1.2.3.4:1@2 master - 0 0 x connected\n{id} 1.2.3.4:1@2 master - 0 0 1 connected 16384\n\
             {id} 1.2.3.4:1@2 master - 0 0 1 connected 9-3\n{id} 1.2.3.4:99999@2 master - 0 0 1 connected\n\
             {id} 1.2.3.4:1@2 master - 0 0 1 connected 1-2\n{id} 1.2.3.4:1@2 master - 0 0 1 connected 3"
        );
        let r = parse(&text);
        assert_eq!(r.nodes.len(), 1);
        assert_eq!(r.nodes[0].slots, [SlotRange { start: 1, end: 2 }]);
        let lines: Vec<usize> = r.bad_lines.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5, 7]);
        assert!(r.bad_lines[1].1.contains("config-epoch"));
        assert!(r.bad_lines[5].1.contains("twice"));
    }

    /// Every prefix and every single-byte change of a real reply parses without a panic.
    #[test]
    fn mangled_replies_never_panic() {
        let base = HEALTHY.as_bytes();
        for cut in 0..base.len() {
            let _ = parse(&String::from_utf8_lossy(&base[..cut]));
        }
        let noise = [
            b' ', b'-', b'[', b']', b'@', b':', b',', b'>', b'<', 0xff, b'9', b'\n',
        ];
        for i in 0..base.len() {
            for &b in &noise {
                let mut m = base.to_vec();
                m[i] = b;
                let r = parse(&String::from_utf8_lossy(&m));
                for n in &r.nodes {
                    assert!(n.slots.iter().all(|s| s.start <= s.end && s.end < SLOTS));
                }
            }
        }
    }

    #[test]
    fn ranges_join_and_print() {
        let r = ranges([0, 1, 2, 5, 7, 8]);
        assert_eq!(ranges_text(&r, 2), "0-2, 5, (+1 more)");
        assert_eq!(r[0].len(), 3);
    }
}
