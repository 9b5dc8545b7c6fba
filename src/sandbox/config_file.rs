//! The configuration describing a sandbox: one group, its nodes on 127.0.0.1, console defaults
//! with the audit log and backups inside the sandbox directory; as a [`Config`] value and as
//! the TOML file `redops --config` reads back.
//!
//! Pure: builds values and text, writes nothing (the password file is the caller's to write).

use std::fmt::Write as _;
use std::path::Path;

use crate::config::{format_duration, Config, Console, Group, LagThresholds, Node};

/// The config for these nodes; the first node is the preferred primary.
#[must_use]
pub fn build(group: &str, nodes: Vec<Node>, dir: &Path) -> Config {
    let console = Console {
        audit_log: dir.join("audit.jsonl"),
        backups_dir: dir.join("backups"),
        ..Console::default()
    };
    let preferred_primary = nodes.first().map(|n| n.name.clone());
    Config {
        console,
        groups: vec![Group {
            name: group.to_string(),
            env: Some("sandbox".to_string()),
            read_only: false,
            preferred_primary,
            lag: LagThresholds::default(),
            sentinel: None,
            cluster: false,
            nodes,
        }],
        source: None,
    }
}

/// TOML for a config of loopback groups as the sandbox makes them: its sentinels, and when the
/// nodes have a password, `password_file` (a password never goes into the file itself); TLS
/// settings are written per group, from its first node.
#[must_use]
pub fn to_toml(config: &Config, header: &str, password_file: Option<&Path>) -> String {
    let c = &config.console;
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let _ = writeln!(out, "\n[console]");
    let _ = writeln!(
        out,
        "poll_interval = {}",
        quote(&format_duration(c.poll_interval))
    );
    let _ = writeln!(
        out,
        "connect_timeout = {}",
        quote(&format_duration(c.connect_timeout))
    );
    let _ = writeln!(out, "timeout = {}", quote(&format_duration(c.timeout)));
    let _ = writeln!(out, "theme = {}", quote(&c.theme));
    let _ = writeln!(out, "read_only = {}", c.read_only);
    let _ = writeln!(out, "audit_log = {}", quote(&c.audit_log.to_string_lossy()));
    let _ = writeln!(
        out,
        "backups_dir = {}",
        quote(&c.backups_dir.to_string_lossy())
    );
    let _ = writeln!(out, "history_len = {}", c.history_len);
    for g in &config.groups {
        let _ = writeln!(out, "\n[[groups]]");
        let _ = writeln!(out, "name = {}", quote(&g.name));
        if let Some(env) = &g.env {
            let _ = writeln!(out, "env = {}", quote(env));
        }
        if let Some(p) = &g.preferred_primary {
            let _ = writeln!(out, "preferred_primary = {}", quote(p));
        }
        if g.cluster {
            let _ = writeln!(out, "cluster = true");
        }
        if let Some(file) = password_file.filter(|_| g.nodes.iter().any(|n| n.password.is_some())) {
            let _ = writeln!(out, "password_file = {}", quote(&file.to_string_lossy()));
        }
        if let Some(s) = &g.sentinel {
            let addrs: Vec<String> = s.addrs.iter().map(|a| quote(&a.to_string())).collect();
            let _ = writeln!(
                out,
                "sentinel = {{ addrs = [{}], master_name = {} }}",
                addrs.join(", "),
                quote(&s.master_name)
            );
        }
        if let Some(tls) = g.nodes.iter().find_map(|n| n.tls.as_ref()) {
            let _ = writeln!(out, "tls = true");
            if let Some(ca) = &tls.ca_file {
                let _ = writeln!(out, "ca_file = {}", quote(&ca.to_string_lossy()));
            }
            if let Some(c) = &tls.client_cert {
                let _ = writeln!(out, "cert_file = {}", quote(&c.cert_file.to_string_lossy()));
                let _ = writeln!(out, "key_file = {}", quote(&c.key_file.to_string_lossy()));
            }
        }
        for n in &g.nodes {
            let _ = writeln!(out, "\n[[groups.nodes]]");
            let _ = writeln!(out, "name = {}", quote(&n.name));
            let _ = writeln!(out, "addr = {}", quote(&n.addr.to_string()));
        }
    }
    out
}

/// A TOML basic string with every needed escape.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Addr;
    use std::path::PathBuf;

    fn node(name: &str, port: u16) -> Node {
        Node {
            name: name.into(),
            addr: Addr {
                host: "127.0.0.1".into(),
                port,
            },
            username: None,
            password: None,
            tls: None,
        }
    }

    #[test]
    fn toml_has_every_node_and_escapes_paths() {
        let dir = PathBuf::from("/tmp/a \"b\"\\c");
        let cfg = build("sandbox", vec![node("n1", 7001), node("n2", 7002)], &dir);
        let text = to_toml(&cfg, "made by a test", None);
        let table: toml::Table = toml::from_str(&text).expect("valid TOML");
        let console = table["console"].as_table().expect("console table");
        assert_eq!(
            console["audit_log"].as_str(),
            Some("/tmp/a \"b\"\\c/audit.jsonl")
        );
        assert_eq!(console["poll_interval"].as_str(), Some("1s"));
        let groups = table["groups"].as_array().expect("groups");
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0]["preferred_primary"].as_str(), Some("n1"));
        let nodes = groups[0]["nodes"].as_array().expect("nodes");
        let addrs: Vec<_> = nodes.iter().filter_map(|n| n["addr"].as_str()).collect();
        assert_eq!(addrs, ["127.0.0.1:7001", "127.0.0.1:7002"]);
        assert!(text.starts_with("# made by a test\n"));
        assert!(!text.contains("password_file") && !text.contains("tls"));
    }

    #[test]
    fn password_and_tls_are_written_as_files() {
        let dir = PathBuf::from("/tmp/sb");
        let mut nodes = vec![node("n1", 7001)];
        nodes[0].password = Some(crate::config::Secret::new("pw"));
        nodes[0].tls = Some(crate::config::Tls {
            ca_file: Some(dir.join("tls/ca.crt")),
            client_cert: Some(crate::config::ClientCert {
                cert_file: dir.join("tls/client.crt"),
                key_file: dir.join("tls/client.key"),
            }),
        });
        let cfg = build("sandbox", nodes, &dir);
        let text = to_toml(&cfg, "h", Some(&dir.join("password")));
        assert!(!text.contains("\"pw\""), "{text}");
        let table: toml::Table = toml::from_str(&text).expect("valid TOML");
        let g = &table["groups"].as_array().expect("groups")[0];
        assert_eq!(g["password_file"].as_str(), Some("/tmp/sb/password"));
        assert_eq!(g["tls"].as_bool(), Some(true));
        assert_eq!(g["ca_file"].as_str(), Some("/tmp/sb/tls/ca.crt"));
        assert_eq!(g["cert_file"].as_str(), Some("/tmp/sb/tls/client.crt"));
        assert_eq!(g["key_file"].as_str(), Some("/tmp/sb/tls/client.key"));
    }
}
