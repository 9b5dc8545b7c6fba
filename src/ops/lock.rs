//! Who else is acting on a node: parses `CLIENT LIST` for another redops action connection
//! (client name prefix `redops-action`) and for Sentinel's connections (`sentinel-<id>-cmd`).
//!
//! Two consoles must not act on one group at once, and a group Sentinel watches is not acted
//! on by hand (REDIS.md 3e). An action holds the lock on every node of its group through its
//! named connections, so it must also see its own name listed. Pure parsing; the engine sends
//! the command.

use super::redis_ops::ACTION_CLIENT_PREFIX;

/// One client connection of interest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The client name, e.g. `redops-action:alice@bastion1:4242`.
    pub name: String,
    /// `addr=` as the server sees it.
    pub addr: String,
    /// Seconds connected.
    pub age: Option<u64>,
}

impl Holder {
    /// `redops-action:alice@bastion1:4242 from 10.0.0.5:51234, connected 12 s`.
    #[must_use]
    pub fn describe(&self) -> String {
        let age = self
            .age
            .map_or_else(String::new, |a| format!(", connected {a} s"));
        format!("{} from {}{age}", self.name, self.addr)
    }
}

/// What `CLIENT LIST` says about other actors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actors {
    /// Other redops action connections (not ours).
    pub redops: Vec<Holder>,
    /// Sentinel connections.
    pub sentinels: Vec<Holder>,
    /// This run's own connection was listed under its name: the lock is held there. False
    /// when the server refused `CLIENT SETNAME` (the ACL user lacks `+client|setname`): then
    /// no other console can see this run.
    pub own_listed: bool,
}

/// Parses a `CLIENT LIST` reply; `own_name` (this run's connections) is not counted.
#[must_use]
pub fn parse_client_list(text: &str, own_name: &str) -> Actors {
    let mut actors = Actors::default();
    for line in text.lines() {
        let mut name = "";
        let mut addr = "";
        let mut age = None;
        for field in line.split(' ') {
            if let Some(v) = field.strip_prefix("name=") {
                name = v;
            } else if let Some(v) = field.strip_prefix("addr=") {
                addr = v;
            } else if let Some(v) = field.strip_prefix("age=") {
                age = v.parse().ok();
            }
        }
        let holder = || Holder {
            name: name.to_string(),
            addr: addr.to_string(),
            age,
        };
        if name == own_name {
            actors.own_listed = true;
        } else if name.starts_with(ACTION_CLIENT_PREFIX) {
            actors.redops.push(holder());
        } else if name.starts_with("sentinel-") {
            actors.sentinels.push(holder());
        }
    }
    actors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_other_consoles_and_sentinels() {
        let text = "id=3 addr=127.0.0.1:50000 laddr=127.0.0.1:7000 fd=8 name=redops-poll age=10 idle=0\n\
                    id=4 addr=10.0.0.5:51234 laddr=127.0.0.1:7000 fd=9 name=redops-action:bob@b2:77 age=12 idle=0\n\
                    id=5 addr=127.0.0.1:50002 laddr=127.0.0.1:7000 fd=10 name=redops-action:me@h:1 age=0 idle=0\n\
                    id=6 addr=127.0.0.1:50003 laddr=127.0.0.1:7000 fd=11 name=sentinel-ca06ba0d-cmd age=99 idle=0\n";
        let a = parse_client_list(text, "redops-action:me@h:1");
        assert_eq!(a.redops.len(), 1);
        assert_eq!(
            a.redops[0].describe(),
            "redops-action:bob@b2:77 from 10.0.0.5:51234, connected 12 s"
        );
        assert_eq!(a.sentinels.len(), 1);
        assert!(a.own_listed);
    }

    #[test]
    fn an_unnamed_own_connection_is_not_listed() {
        let text = "id=3 addr=127.0.0.1:50000 laddr=127.0.0.1:7000 fd=8 name= age=0 idle=0\n";
        let a = parse_client_list(text, "redops-action:me@h:1");
        assert!(!a.own_listed);
        assert!(a.redops.is_empty());
    }
}
