//! Valid files: the shipped samples, the defaults, paths, and the default config location.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{env_of, load, test_env, FILE, GROUP, SECRET};
use crate::config::load::{
    default_config_path_from, expand_tilde_with, load_file_with_env, load_str_with_env,
};
use crate::config::raw::{KEYS_CONSOLE, KEYS_GROUP, KEYS_NODE, KEYS_SENTINEL, KEYS_TOP};
use crate::config::{
    data_dir_from, Addr, Config, Console, ErrorKind, LagThresholds, DEFAULT_CONFIG_TOML,
};

// ---- files, samples, defaults ----------------------------------------------------------------

#[test]
fn config_file_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let e = load_file_with_env(&path, &test_env()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.file(), Some(path.as_path()));
    assert!(
        e.hint().contains("--node ADDR") && e.hint().contains("redops sandbox"),
        "{e}"
    );
    let shown = e.to_string();
    assert!(
        shown.contains(&format!("--> {}", path.display())),
        "{shown}"
    );

    let e = load_file_with_env(dir.path(), &test_env()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unreadable, "{e}");
}

fn sample(name: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-configs")
        .join(name);
    load_file_with_env(&path, &test_env()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_sample_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-configs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    for shipped in [
        "cluster.toml",
        "full.toml",
        "production.toml",
        "sentinel.toml",
        "three-node.toml",
        "tls-acl.toml",
    ] {
        assert!(names.iter().any(|n| n == shipped), "{shipped} missing");
    }
    // Every sample, including any added later, must load.
    for name in &names {
        sample(name);
    }

    let three = sample("three-node.toml");
    assert_eq!(three.groups[0].nodes.len(), 3);
    assert_eq!(three.console.timeout, Duration::from_millis(500));

    let tls = sample("tls-acl.toml");
    let node = &tls.groups[0].nodes[0];
    assert_eq!(node.username.as_deref(), Some("ops"));
    assert_eq!(node.password.as_ref().unwrap().expose(), SECRET);
    assert_eq!(
        node.tls.as_ref().unwrap().ca_file.as_deref(),
        Some(dir.join("tls/ca.pem").as_path())
    );

    let sentinel = sample("sentinel.toml");
    let s = sentinel.groups[0].sentinel.as_ref().unwrap();
    assert_eq!(s.addrs.len(), 3);
    assert_eq!(
        s.addrs[2],
        Addr {
            host: "10.0.2.7".into(),
            port: 26379
        }
    );

    assert!(sample("cluster.toml").groups[0].cluster);

    let prod = sample("production.toml");
    assert_eq!(prod.groups.len(), 2);
    assert!(prod.groups[0].is_production() && prod.groups[0].read_only);
    assert!(!prod.groups[1].is_production() && !prod.groups[1].read_only);
}

#[test]
fn full_sample_equals_the_defaults() {
    let env = env_of(&[("HOME", "/home/op")]);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-configs/full.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, DEFAULT_CONFIG_TOML);
    let c = load_str_with_env(DEFAULT_CONFIG_TOML, Some(&path), &env).unwrap();
    assert_eq!(c.console, Console::with_data_dir(&data_dir_from(&env)));
    assert_eq!(
        c.console.audit_log,
        PathBuf::from("/home/op/.local/share/redops/audit.jsonl")
    );
    let g = &c.groups[0];
    assert_eq!(g.lag, LagThresholds::default());
    assert!(!g.read_only && !g.cluster && g.sentinel.is_none() && g.env.is_none());
    assert!(g.nodes[0].tls.is_none() && g.nodes[0].password.is_none());

    // Every key of the schema appears in the sample, set or commented out.
    for key in KEYS_CONSOLE
        .iter()
        .chain(KEYS_GROUP)
        .chain(KEYS_NODE)
        .chain(KEYS_SENTINEL)
    {
        assert!(
            DEFAULT_CONFIG_TOML.contains(&format!("{key} ")),
            "full.toml lacks {key}"
        );
    }
}

#[test]
fn console_default_follows_the_data_dir() {
    assert_eq!(
        Console::default(),
        Console::with_data_dir(&crate::config::data_dir())
    );
    let env = env_of(&[("HOME", "/h"), ("XDG_DATA_HOME", "/xdg")]);
    assert_eq!(data_dir_from(&env), PathBuf::from("/xdg/redops"));
    let c = load_str_with_env(GROUP, None, &env).unwrap();
    assert_eq!(
        c.console.audit_log,
        PathBuf::from("/xdg/redops/audit.jsonl")
    );
    assert_eq!(c.source, None);
}

#[test]
fn download_timeout_is_read() {
    let c = load(&format!("[console]\ndownload_timeout = \"90s\"\n{GROUP}")).unwrap();
    assert_eq!(c.console.download_timeout, Duration::from_secs(90));
    let c = load(GROUP).unwrap();
    assert_eq!(
        c.console.download_timeout,
        crate::config::DEFAULT_DOWNLOAD_TIMEOUT
    );
}

#[test]
fn paths_expand_and_resolve() {
    let text = format!("[console]\naudit_log = \"~/a.jsonl\"\nbackups_dir = \"b\"\n{GROUP}");
    let c = load(&text).unwrap();
    assert_eq!(c.console.audit_log, PathBuf::from("/home/op/a.jsonl"));
    assert_eq!(c.console.backups_dir, PathBuf::from("/etc/redops/b"));
    assert_eq!(c.source.as_deref(), Some(Path::new(FILE)));

    let home = Some(OsString::from("/home/op"));
    assert_eq!(
        expand_tilde_with("~", home.clone()),
        PathBuf::from("/home/op")
    );
    assert_eq!(
        expand_tilde_with("~/x/y", home.clone()),
        PathBuf::from("/home/op/x/y")
    );
    assert_eq!(
        expand_tilde_with("~bob/x", home.clone()),
        PathBuf::from("~bob/x")
    );
    assert_eq!(
        expand_tilde_with("/abs/~/x", home),
        PathBuf::from("/abs/~/x")
    );
    assert_eq!(expand_tilde_with("~/x", None), PathBuf::from("~/x"));
}

#[test]
fn default_path() {
    let p = default_config_path_from(&env_of(&[("XDG_CONFIG_HOME", "/xdg"), ("HOME", "/h")]));
    assert_eq!(p, PathBuf::from("/xdg/redops/config.toml"));
    let p = default_config_path_from(&env_of(&[("XDG_CONFIG_HOME", ""), ("HOME", "/h")]));
    assert_eq!(p, PathBuf::from("/h/.config/redops/config.toml"));
    let p = default_config_path_from(&env_of(&[]));
    assert_eq!(p, PathBuf::from(".config/redops/config.toml"));
}

/// The key lists used for hints must be exactly what serde accepts in each table.
#[test]
fn key_lists_match_the_schema() {
    let expected_in = |text: &str| -> Vec<String> {
        let e = toml::from_str::<crate::config::raw::RawConfig>(text).unwrap_err();
        let mut keys: Vec<String> = e
            .message()
            .split('`')
            .skip(3)
            .step_by(2)
            .map(str::to_string)
            .collect();
        keys.sort();
        keys
    };
    let sorted = |keys: &[&str]| {
        let mut v: Vec<String> = keys.iter().map(|k| (*k).to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(expected_in("zz = 1"), sorted(KEYS_TOP));
    assert_eq!(expected_in("[console]\nzz = 1"), sorted(KEYS_CONSOLE));
    assert_eq!(expected_in("[[groups]]\nzz = 1"), sorted(KEYS_GROUP));
    assert_eq!(
        expected_in("[[groups]]\n[[groups.nodes]]\nzz = 1"),
        sorted(KEYS_NODE)
    );
    assert_eq!(
        expected_in("[[groups]]\nsentinel = { zz = 1 }"),
        sorted(KEYS_SENTINEL)
    );
}
