//! The `CLUSTER INFO` reply (`field:value` lines), parsed defensively: a field that is absent
//! or does not read is `None`, never a panic. Pure.

/// What one node says about the cluster as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterInfo {
    /// `cluster_state:ok` (`Some(true)`) or `fail` (`Some(false)`).
    pub state_ok: Option<bool>,
    pub slots_assigned: Option<u32>,
    pub slots_ok: Option<u32>,
    pub slots_pfail: Option<u32>,
    pub slots_fail: Option<u32>,
    pub known_nodes: Option<u32>,
    /// Primaries serving at least one slot.
    pub size: Option<u32>,
    pub current_epoch: Option<u64>,
    pub my_epoch: Option<u64>,
}

/// Parses a `CLUSTER INFO` reply. Total.
#[must_use]
pub fn parse(text: &str) -> ClusterInfo {
    let mut out = ClusterInfo::default();
    for line in text.lines().take(256) {
        let Some((k, v)) = line.trim().split_once(':') else {
            continue;
        };
        let n32 = || v.parse::<u32>().ok();
        match k {
            "cluster_state" => {
                out.state_ok = match v {
                    "ok" => Some(true),
                    "fail" => Some(false),
                    _ => None,
                }
            }
            "cluster_slots_assigned" => out.slots_assigned = n32(),
            "cluster_slots_ok" => out.slots_ok = n32(),
            "cluster_slots_pfail" => out.slots_pfail = n32(),
            "cluster_slots_fail" => out.slots_fail = n32(),
            "cluster_known_nodes" => out.known_nodes = n32(),
            "cluster_size" => out.size = n32(),
            "cluster_current_epoch" => out.current_epoch = v.parse().ok(),
            "cluster_my_epoch" => out.my_epoch = v.parse().ok(),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields() {
        let i = parse(
            "cluster_state:fail\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:10922\r\n\
             cluster_slots_pfail:0\r\ncluster_slots_fail:5462\r\ncluster_known_nodes:6\r\n\
             cluster_size:3\r\ncluster_current_epoch:7\r\ncluster_my_epoch:2\r\nnew_field:1\r\n",
        );
        assert_eq!(i.state_ok, Some(false));
        assert_eq!(i.slots_fail, Some(5462));
        assert_eq!(i.current_epoch, Some(7));
        assert_eq!(i.size, Some(3));
    }

    #[test]
    fn garbage_gives_nothing() {
        let i = parse("cluster_state:maybe\ncluster_slots_ok:-1\n:::\n\u{0}");
        assert_eq!(i, ClusterInfo::default());
    }
}
