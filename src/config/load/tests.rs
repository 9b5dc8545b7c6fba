//! Tests of loading: one per error case (kind, key, line:column, hint), the shipped samples,
//! the defaults, inheritance, paths, and that no password ever shows.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{default_config_path_from, expand_tilde_with, load_file_with_env, load_str_with_env};
use crate::config::raw::{KEYS_CONSOLE, KEYS_GROUP, KEYS_NODE, KEYS_SENTINEL, KEYS_TOP};
use crate::config::{
    data_dir_from, Addr, Config, ConfigError, Console, ErrorKind, LagThresholds, Location,
    DEFAULT_CONFIG_TOML,
};

const SECRET: &str = "hunter2-very-secret";
const FILE: &str = "/etc/redops/config.toml";

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let map: HashMap<String, OsString> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), OsString::from(v)))
        .collect();
    move |name| map.get(name).cloned()
}

fn test_env() -> impl Fn(&str) -> Option<OsString> {
    env_of(&[
        ("HOME", "/home/op"),
        ("REDIS_OPS_PASSWORD", SECRET),
        ("EMPTY_PASSWORD", ""),
    ])
}

fn load(text: &str) -> Result<Config, ConfigError> {
    load_str_with_env(text, Some(Path::new(FILE)), &test_env())
}

fn err(text: &str) -> ConfigError {
    match load(text) {
        Ok(c) => panic!("expected an error, loaded {c:?}"),
        Err(e) => e,
    }
}

/// Checks every part of an error and that its Display carries them (and no secret).
#[track_caller]
fn check(e: &ConfigError, kind: ErrorKind, key: Option<&str>, line: usize, column: usize) {
    assert_eq!(e.kind(), kind, "{e}");
    assert_eq!(e.key(), key, "{e}");
    assert_eq!(e.location(), Some(Location { line, column }), "{e}");
    assert_eq!(e.file(), Some(Path::new(FILE)));
    assert!(!e.hint().is_empty(), "no hint: {e}");
    let shown = e.to_string();
    assert!(shown.starts_with("error: "), "{shown}");
    assert!(
        shown.contains(&format!("--> {FILE}:{line}:{column}")),
        "{shown}"
    );
    assert!(shown.contains("\n  hint: "), "{shown}");
    if let Some(key) = key {
        assert!(shown.contains(&format!(" at {key}")), "{shown}");
    }
    assert_no_secret(e);
}

#[track_caller]
fn assert_no_secret(e: &ConfigError) {
    assert!(!e.to_string().contains(SECRET), "{e}");
    assert!(!format!("{e:?}").contains(SECRET), "{e:?}");
}

/// A valid group to append error cases to.
const GROUP: &str =
    "[[groups]]\nname = \"g\"\n[[groups.nodes]]\nname = \"m1\"\naddr = \"127.0.0.1:6379\"\n";

// ---- syntax, unknown keys, types -------------------------------------------------------------

#[test]
fn syntax_error() {
    let e = err("[console]\npoll_interval = \"1s\n");
    check(&e, ErrorKind::Syntax, None, 2, 20);
    assert!(e.hint().contains("double quotes"), "{e}");
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let e = err(&format!("[console]\npol_interval = \"1s\"\n{GROUP}"));
    check(
        &e,
        ErrorKind::UnknownKey,
        Some("console.pol_interval"),
        2,
        1,
    );
    assert_eq!(e.message(), "unknown key 'pol_interval'");
    assert_eq!(e.hint(), "did you mean 'poll_interval'?");

    let e = err(&format!("{GROUP}adr = \"x\"\n"));
    check(
        &e,
        ErrorKind::UnknownKey,
        Some("groups[0].nodes[0].adr"),
        6,
        1,
    );
    assert_eq!(e.hint(), "did you mean 'addr'?");

    let e = err(&format!("[console]\npoll-interval = \"1s\"\n{GROUP}"));
    assert_eq!(e.hint(), "did you mean 'poll_interval'?");
}

#[test]
fn unknown_key_that_belongs_elsewhere() {
    let e = err("[[groups]]\nname = \"g\"\naddr = \"h:1\"\n");
    check(&e, ErrorKind::UnknownKey, Some("groups[0].addr"), 3, 1);
    assert!(e.hint().contains("belongs in [[groups.nodes]]"), "{e}");

    let e = err("colour = 1\n");
    check(&e, ErrorKind::UnknownKey, Some("colour"), 1, 1);
    assert!(e.hint().contains("console, groups"), "{e}");
}

#[test]
fn unknown_key_in_sentinel() {
    let e = err("[[groups]]\nname = \"g\"\nsentinel = { addrs = [\"h:1\"], master = \"m\" }\n");
    check(
        &e,
        ErrorKind::UnknownKey,
        Some("groups[0].sentinel.master"),
        3,
        31,
    );
}

#[test]
fn inline_password_is_refused_without_echo() {
    let e = err(&format!("{GROUP}password = \"{SECRET}\"\n"));
    check(
        &e,
        ErrorKind::UnknownKey,
        Some("groups[0].nodes[0].password"),
        6,
        1,
    );
    assert!(e.hint().contains("password_env"), "{e}");
}

#[test]
fn wrong_type() {
    let e = err(&format!("[console]\npoll_interval = 5\n{GROUP}"));
    check(
        &e,
        ErrorKind::WrongType,
        Some("console.poll_interval"),
        2,
        17,
    );
    assert_eq!(e.detail(), Some("expected a string, found integer '5'"));
    assert_eq!(e.hint(), "write it like: poll_interval = \"1s\"");

    let e = err("[groups]\nname = \"g\"\n");
    check(&e, ErrorKind::WrongType, Some("groups"), 1, 1);
    assert!(e.hint().contains("[[groups]]"), "{e}");

    let e = err("[[groups]]\nname = \"g\"\nsentinel = { addrs = [\"a:1\", 5] }\n");
    check(
        &e,
        ErrorKind::WrongType,
        Some("groups[0].sentinel.addrs[1]"),
        3,
        30,
    );

    let e = err("[console]\nhistory_len = 1.5\n");
    assert_eq!(
        e.detail(),
        Some("expected a whole number, found floating point '1.5'")
    );
}

#[test]
fn wrong_type_under_a_password_key_shows_no_value() {
    let e = err(&format!("{GROUP}password_file = {{ x = \"{SECRET}\" }}\n"));
    assert_eq!(e.kind(), ErrorKind::WrongType);
    assert_no_secret(&e);
    let e = err("[[groups]]\nname = \"g\"\npassword_env = 123456\n");
    assert_eq!(e.detail(), Some("expected a string, found integer"));
}

#[test]
fn alias_given_twice() {
    let e = err("[[groups]]\nname = \"g\"\npreferred_master = \"a\"\npreferred_primary = \"b\"\n");
    assert_eq!(e.kind(), ErrorKind::Duplicate, "{e}");
    assert_eq!(e.location(), Some(Location { line: 1, column: 1 }));
}

// ---- console ---------------------------------------------------------------------------------

#[test]
fn bad_duration() {
    let e = err(&format!("[console]\npoll_interval = \"fast\"\n{GROUP}"));
    check(
        &e,
        ErrorKind::InvalidValue,
        Some("console.poll_interval"),
        2,
        17,
    );
    assert_eq!(e.message(), "invalid duration 'fast'");
    assert!(e.hint().contains("\"500ms\""), "{e}");

    let e = err(&format!("[console]\ntimeout = \"5\"\n{GROUP}"));
    assert_eq!(e.detail(), Some("it has no unit"));
}

#[test]
fn poll_interval_too_short() {
    let e = err(&format!("[console]\npoll_interval = \"50ms\"\n{GROUP}"));
    check(
        &e,
        ErrorKind::InvalidValue,
        Some("console.poll_interval"),
        2,
        17,
    );
    assert!(e.hint().contains("100ms"), "{e}");
    assert!(load(&format!("[console]\npoll_interval = \"100ms\"\n{GROUP}")).is_ok());
}

#[test]
fn zero_timeouts() {
    let e = err(&format!("[console]\ntimeout = \"0s\"\n{GROUP}"));
    check(&e, ErrorKind::InvalidValue, Some("console.timeout"), 2, 11);
    let e = err(&format!("[console]\nconnect_timeout = \"0ms\"\n{GROUP}"));
    check(
        &e,
        ErrorKind::InvalidValue,
        Some("console.connect_timeout"),
        2,
        19,
    );
}

#[test]
fn console_values() {
    let e = err(&format!("[console]\nhistory_len = 5\n{GROUP}"));
    check(
        &e,
        ErrorKind::InvalidValue,
        Some("console.history_len"),
        2,
        15,
    );
    let e = err(&format!("[console]\ntheme = \"\"\n{GROUP}"));
    check(&e, ErrorKind::InvalidValue, Some("console.theme"), 2, 9);
}

// ---- groups and nodes ------------------------------------------------------------------------

#[test]
fn bad_address_display() {
    let e = err("[[groups]]\nname = \"g\"\n[[groups.nodes]]\nname = \"m1\"\naddr = \"x:99999\"\n");
    check(
        &e,
        ErrorKind::InvalidValue,
        Some("groups[0].nodes[0].addr"),
        5,
        8,
    );
    assert_eq!(
        e.to_string(),
        "error: invalid address 'x:99999' at groups[0].nodes[0].addr: port '99999' is not a \
         number from 1 to 65535\n  --> /etc/redops/config.toml:5:8\n  hint: write it as \
         host:port, e.g. \"10.0.0.11:6379\" or \"[::1]:6379\""
    );
    let e =
        err("[[groups]]\nname = \"g\"\n[[groups.nodes]]\nname = \"m1\"\naddr = \"redis://h:1\"\n");
    assert_eq!(e.detail(), Some("it looks like a URL; give host:port"));
}

#[test]
fn group_names() {
    let e = err("[[groups]]\nname = \"\"\n");
    check(&e, ErrorKind::InvalidValue, Some("groups[0].name"), 2, 8);

    let e = err("[[groups]]\nenv = \"dev\"\n");
    check(&e, ErrorKind::MissingKey, Some("groups[0].name"), 1, 1);
    assert!(e.hint().contains("name = \"cache-main\""), "{e}");

    let e = err(&format!("{GROUP}{}", GROUP.replace("m1", "m2")));
    check(&e, ErrorKind::Duplicate, Some("groups[1].name"), 7, 8);
    assert_eq!(e.message(), "duplicate group name 'g'");

    let e = err("[[groups]]\nname = \"cache main\"\n");
    check(&e, ErrorKind::InvalidValue, Some("groups[0].name"), 2, 8);
}

#[test]
fn duplicate_node_name_and_address() {
    let e = err(&format!(
        "{GROUP}[[groups.nodes]]\nname = \"m1\"\naddr = \"127.0.0.1:6380\"\n"
    ));
    check(
        &e,
        ErrorKind::Duplicate,
        Some("groups[0].nodes[1].name"),
        7,
        8,
    );
    assert!(e.detail().is_some_and(|d| d.contains("nodes[0]")), "{e}");

    let e = err(&format!(
        "{GROUP}[[groups.nodes]]\nname = \"r1\"\naddr = \"127.0.0.1:6379\"\n"
    ));
    check(
        &e,
        ErrorKind::Duplicate,
        Some("groups[0].nodes[1].addr"),
        8,
        8,
    );
    assert_eq!(e.message(), "duplicate address '127.0.0.1:6379'");
}

#[test]
fn node_missing_keys() {
    let e = err("[[groups]]\nname = \"g\"\n[[groups.nodes]]\nname = \"m1\"\n");
    check(
        &e,
        ErrorKind::MissingKey,
        Some("groups[0].nodes[0].addr"),
        3,
        1,
    );
    let e = err("[[groups]]\nname = \"g\"\n[[groups.nodes]]\naddr = \"h:1\"\n");
    check(
        &e,
        ErrorKind::MissingKey,
        Some("groups[0].nodes[0].name"),
        3,
        1,
    );
}

#[test]
fn group_without_nodes() {
    let e = err("[[groups]]\nname = \"g\"\n");
    check(&e, ErrorKind::MissingKey, Some("groups[0].nodes"), 1, 1);
    assert!(e.hint().contains("[[groups.nodes]]"), "{e}");
    let e = err("[[groups]]\nname = \"g\"\nnodes = []\n");
    check(&e, ErrorKind::MissingKey, Some("groups[0].nodes"), 3, 9);
}

#[test]
fn zero_groups() {
    let e = err("");
    check(&e, ErrorKind::NoGroups, Some("groups"), 1, 1);
    assert!(e.hint().contains("--node"), "{e}");
    let e = err("groups = []\n[console]\ntheme = \"dark\"\n");
    check(&e, ErrorKind::NoGroups, Some("groups"), 1, 10);
}

#[test]
fn preferred_primary_must_name_a_node() {
    let e = err(&GROUP.replace(
        "name = \"g\"\n",
        "name = \"g\"\npreferred_primary = \"m9\"\n",
    ));
    check(
        &e,
        ErrorKind::InvalidValue,
        Some("groups[0].preferred_primary"),
        3,
        21,
    );
    assert_eq!(e.message(), "unknown node 'm9'");
    assert!(e.detail().is_some_and(|d| d.contains("m1")), "{e}");

    let ok = load(&GROUP.replace(
        "name = \"g\"\n",
        "name = \"g\"\npreferred_master = \"m1\"\n",
    ));
    assert_eq!(
        ok.unwrap().groups[0].preferred_primary.as_deref(),
        Some("m1")
    );
}

#[test]
fn lag_thresholds() {
    let with = |lines: &str| GROUP.replace("name = \"g\"\n", &format!("name = \"g\"\n{lines}"));
    let e = err(&with("lag_warn_bytes = 2000\nlag_crit_bytes = 1000\n"));
    check(
        &e,
        ErrorKind::Conflict,
        Some("groups[0].lag_warn_bytes"),
        3,
        18,
    );
    assert_eq!(
        e.detail(),
        Some("lag_warn_bytes is 2000 but lag_crit_bytes is 1000")
    );
    // Only the critical level written, below the default warning level: point at it.
    let e = err(&with("lag_crit_seconds = 1.0\n"));
    check(
        &e,
        ErrorKind::Conflict,
        Some("groups[0].lag_crit_seconds"),
        3,
        20,
    );
    let e = err(&with("lag_warn_bytes = -1\n"));
    check(
        &e,
        ErrorKind::InvalidValue,
        Some("groups[0].lag_warn_bytes"),
        3,
        18,
    );

    let ok = load(&with("lag_warn_seconds = 1\nlag_crit_bytes = 1_048_576\n")).unwrap();
    let lag = ok.groups[0].lag;
    assert_eq!((lag.warn_seconds, lag.crit_bytes), (1.0, 1_048_576));
}

#[test]
fn sentinel_rules() {
    let with = |line: &str| GROUP.replace("name = \"g\"\n", &format!("name = \"g\"\n{line}\n"));
    let e = err(&with("sentinel = { addrs = [], master_name = \"m\" }"));
    check(
        &e,
        ErrorKind::MissingKey,
        Some("groups[0].sentinel.addrs"),
        3,
        22,
    );
    let e = err(&with("sentinel = { master_name = \"m\" }"));
    check(
        &e,
        ErrorKind::MissingKey,
        Some("groups[0].sentinel.addrs"),
        3,
        12,
    );
    let e = err(&with(
        "sentinel = { addrs = [\"s:26379\"], master_name = \"\" }",
    ));
    check(
        &e,
        ErrorKind::MissingKey,
        Some("groups[0].sentinel.master_name"),
        3,
        49,
    );
    let e = err(&with("sentinel = { addrs = [\"s:26379\"] }"));
    check(
        &e,
        ErrorKind::MissingKey,
        Some("groups[0].sentinel.master_name"),
        3,
        12,
    );
    let e = err(&with(
        "sentinel = { addrs = [\"s:0\"], master_name = \"m\" }",
    ));
    check(
        &e,
        ErrorKind::InvalidValue,
        Some("groups[0].sentinel.addrs[0]"),
        3,
        23,
    );
    let e = err(&with(
        "cluster = true\nsentinel = { addrs = [\"s\"], master_name = \"m\" }",
    ));
    check(&e, ErrorKind::Conflict, Some("groups[0].cluster"), 3, 11);

    let ok = load(&with(
        "sentinel = { addrs = [\"s1\", \"s2:5000\", \"[::1]\"], master_name = \"m\" }",
    ));
    let s = ok.unwrap().groups[0].sentinel.clone().unwrap();
    let ports: Vec<u16> = s.addrs.iter().map(|a| a.port).collect();
    assert_eq!(ports, [26379, 5000, 26379]);
}

// ---- passwords and TLS -----------------------------------------------------------------------

#[test]
fn password_env() {
    let e = err(&format!("{GROUP}password_env = \"NOT_SET_ANYWHERE\"\n"));
    check(
        &e,
        ErrorKind::Password,
        Some("groups[0].nodes[0].password_env"),
        6,
        16,
    );
    assert_eq!(
        e.message(),
        "environment variable 'NOT_SET_ANYWHERE' is not set"
    );
    assert!(e.hint().contains("export NOT_SET_ANYWHERE"), "{e}");

    let e = err(&format!("{GROUP}password_env = \"EMPTY_PASSWORD\"\n"));
    check(
        &e,
        ErrorKind::Password,
        Some("groups[0].nodes[0].password_env"),
        6,
        16,
    );
    assert_eq!(
        e.message(),
        "environment variable 'EMPTY_PASSWORD' is empty"
    );

    // The password itself pasted where the variable name belongs: never echoed.
    let e = err(&format!("{GROUP}password_env = \"{SECRET}\"\n"));
    check(
        &e,
        ErrorKind::InvalidValue,
        Some("groups[0].nodes[0].password_env"),
        6,
        16,
    );

    let ok = load(&format!("{GROUP}password_env = \"REDIS_OPS_PASSWORD\"\n")).unwrap();
    let password = ok.groups[0].nodes[0].password.clone().unwrap();
    assert_eq!(password.expose(), SECRET);
}

#[test]
fn password_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let e = err(&format!(
        "{GROUP}password_file = {:?}\n",
        missing.display().to_string()
    ));
    check(
        &e,
        ErrorKind::Password,
        Some("groups[0].nodes[0].password_file"),
        6,
        17,
    );
    assert!(e.message().contains("cannot read password file"), "{e}");
    assert!(e.message().contains(&missing.display().to_string()), "{e}");

    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\nsecond line\n").unwrap();
    let e = err(&format!(
        "{GROUP}password_file = {:?}\n",
        empty.display().to_string()
    ));
    check(
        &e,
        ErrorKind::Password,
        Some("groups[0].nodes[0].password_file"),
        6,
        17,
    );
    assert!(e.message().ends_with("is empty"), "{e}");

    let good = dir.path().join("pw");
    std::fs::write(&good, format!("{SECRET}\r\nignored\n")).unwrap();
    let ok = load(&format!(
        "{GROUP}password_file = {:?}\n",
        good.display().to_string()
    ))
    .unwrap();
    assert_eq!(
        ok.groups[0].nodes[0].password.as_ref().unwrap().expose(),
        SECRET
    );

    let e = err(&format!(
        "{GROUP}password_env = \"REDIS_OPS_PASSWORD\"\npassword_file = {:?}\n",
        good.display().to_string()
    ));
    check(
        &e,
        ErrorKind::Conflict,
        Some("groups[0].nodes[0].password_file"),
        7,
        17,
    );
}

#[test]
fn ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| format!("{:?}", dir.path().join(name).display().to_string());
    let e = err(&format!(
        "{GROUP}tls = true\nca_file = {}\n",
        path("missing.pem")
    ));
    check(
        &e,
        ErrorKind::File,
        Some("groups[0].nodes[0].ca_file"),
        7,
        11,
    );
    assert!(e.message().contains("no such file"), "{e}");

    std::fs::write(dir.path().join("junk.pem"), "not a certificate").unwrap();
    let e = err(&format!(
        "{GROUP}tls = true\nca_file = {}\n",
        path("junk.pem")
    ));
    check(
        &e,
        ErrorKind::File,
        Some("groups[0].nodes[0].ca_file"),
        7,
        11,
    );
    assert!(e.message().contains("no PEM certificate"), "{e}");

    // A CA file where TLS is off (node level, then group level).
    let e = err(&format!("{GROUP}ca_file = {}\n", path("junk.pem")));
    check(
        &e,
        ErrorKind::Conflict,
        Some("groups[0].nodes[0].ca_file"),
        6,
        11,
    );
    assert!(e.hint().contains("tls = true"), "{e}");
    let text = GROUP.replace(
        "name = \"g\"\n",
        &format!("name = \"g\"\nca_file = {}\n", path("x")),
    );
    let e = err(&text);
    check(&e, ErrorKind::Conflict, Some("groups[0].ca_file"), 3, 11);

    // A missing CA at group level is reported where it was written.
    let text = GROUP.replace(
        "name = \"g\"\n",
        &format!("name = \"g\"\ntls = true\nca_file = {}\n", path("gone.pem")),
    );
    check(
        &err(&text),
        ErrorKind::File,
        Some("groups[0].ca_file"),
        4,
        11,
    );
}

#[test]
fn connection_settings_are_inherited() {
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-configs/tls/ca.pem");
    let text = format!(
        "[[groups]]\nname = \"g\"\nusername = \"ops\"\npassword_env = \"REDIS_OPS_PASSWORD\"\n\
         tls = true\nca_file = {:?}\n\
         [[groups.nodes]]\nname = \"a\"\naddr = \"h:1\"\n\
         [[groups.nodes]]\nname = \"b\"\naddr = \"h:2\"\nusername = \"other\"\ntls = false\n",
        ca.display().to_string()
    );
    let c = load(&text).unwrap();
    let (a, b) = (&c.groups[0].nodes[0], &c.groups[0].nodes[1]);
    assert_eq!(a.username.as_deref(), Some("ops"));
    assert_eq!(a.password.as_ref().unwrap().expose(), SECRET);
    assert_eq!(
        a.tls.as_ref().unwrap().ca_file.as_deref(),
        Some(ca.as_path())
    );
    assert_eq!(b.username.as_deref(), Some("other"));
    assert_eq!(b.password.as_ref().unwrap().expose(), SECRET);
    assert!(b.tls.is_none());
}

#[test]
fn secrets_never_print() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, SECRET).unwrap();
    let pw = format!("{:?}", pw.display().to_string());
    let good = format!(
        "[[groups]]\nname = \"g\"\npassword_env = \"REDIS_OPS_PASSWORD\"\n\
         [[groups.nodes]]\nname = \"a\"\naddr = \"h:1\"\n\
         [[groups.nodes]]\nname = \"b\"\naddr = \"h:2\"\npassword_file = {pw}\n"
    );
    let c = load(&good).unwrap();
    assert!(!format!("{c:?}").contains(SECRET));
    assert_eq!(
        c.groups[0].nodes[1].password.as_ref().unwrap().expose(),
        SECRET
    );

    // Errors raised after the passwords were read, and errors about the password keys.
    let cases = [
        format!("{good}[[groups.nodes]]\nname = \"a\"\naddr = \"h:3\"\n"),
        format!("{good}[[groups.nodes]]\nname = \"c\"\naddr = \"h:1\"\n"),
        format!("{good}[[groups.nodes]]\nname = \"c\"\naddr = \"h:\"\n"),
        format!("{good}password = \"{SECRET}\"\n"),
        format!("{good}pass_word = \"{SECRET}\"\n"),
        format!("{good}password_env = \"{SECRET}\"\n"),
        format!("{good}password_env = \"{SECRET}\"\npassword_file = {pw}\n"),
        format!("{good}password_file = {{ v = \"{SECRET}\" }}\n"),
        format!("{good}password_env = [\"{SECRET}\"]\n"),
        format!("{good}password = \"{SECRET}\n"),
        good.replace("name = \"g\"", "name = \"g\"\npreferred_primary = \"zz\""),
    ];
    for text in &cases {
        let e = err(text);
        assert_no_secret(&e);
    }
}

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
    assert_eq!(
        names,
        [
            "cluster.toml",
            "full.toml",
            "production.toml",
            "sentinel.toml",
            "three-node.toml",
            "tls-acl.toml"
        ]
    );
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
