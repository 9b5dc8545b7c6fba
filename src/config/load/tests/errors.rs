//! One test per kind of bad config: the error's kind, key, line:column and hint.

use super::{assert_no_secret, check, err, load, GROUP, SECRET};
use crate::config::{ErrorKind, Location};

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
    let e = err(&format!("[console]\ndownload_timeout = \"0s\"\n{GROUP}"));
    check(
        &e,
        ErrorKind::InvalidValue,
        Some("console.download_timeout"),
        2,
        20,
    );
    let e = err(&format!("[console]\ndownload_timeout = \"10\"\n{GROUP}"));
    check(
        &e,
        ErrorKind::InvalidValue,
        Some("console.download_timeout"),
        2,
        20,
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
         host:port, e.g. \"10.0.0.11:6379\" or \"[::1]:6379\", or as redis://host:port"
    );
    let e =
        err("[[groups]]\nname = \"g\"\n[[groups.nodes]]\nname = \"m1\"\naddr = \"http://h:1\"\n");
    assert!(
        e.detail()
            .is_some_and(|d| d.contains("unknown scheme 'http'")),
        "{e}"
    );
}

fn node_with(addr: &str, extra: &str) -> String {
    format!("[[groups]]\nname = \"g\"\n[[groups.nodes]]\nname = \"m1\"\naddr = \"{addr}\"\n{extra}")
}

#[test]
fn redis_urls_as_addresses() {
    let c = load(&node_with("redis://10.0.0.1:6380/0", "")).unwrap();
    let n = &c.groups[0].nodes[0];
    assert_eq!(
        (n.addr.to_string(), n.tls.is_some()),
        ("10.0.0.1:6380".into(), false)
    );
    let c = load(&node_with("rediss://cache-a", "")).unwrap();
    let n = &c.groups[0].nodes[0];
    assert_eq!(
        (n.addr.to_string(), n.tls.is_some()),
        ("cache-a:6379".into(), true)
    );
    // redis:// says nothing against TLS set in the config.
    let c = load(&node_with("redis://cache-a", "tls = true\n")).unwrap();
    assert!(c.groups[0].nodes[0].tls.is_some());
    // A sentinel URL keeps its written port, and gets 26379 when none is written.
    let s = "[[groups]]\nname = \"g\"\nsentinel = { addrs = [\"redis://s1:26380/0\", \"redis://s2\"], master_name = \"m\" }\n[[groups.nodes]]\nname = \"m1\"\naddr = \"h:1\"\n";
    let c = load(s).unwrap();
    let addrs: Vec<String> = c.groups[0]
        .sentinel
        .as_ref()
        .unwrap()
        .addrs
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(addrs, ["s1:26380", "s2:26379"]);
}

#[test]
fn redis_urls_refused() {
    let e = err(&node_with("rediss://cache-a", "tls = false\n"));
    check(
        &e,
        ErrorKind::Conflict,
        Some("groups[0].nodes[0].addr"),
        5,
        8,
    );
    assert!(e.hint().contains("redis://"), "{e}");

    let e = err(&node_with("redis://ops:hunter2@cache-a:6379", ""));
    check(
        &e,
        ErrorKind::InvalidValue,
        Some("groups[0].nodes[0].addr"),
        5,
        8,
    );
    let text = e.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("ops:"),
        "{text}"
    );
    assert!(text.contains("shell history"), "{text}");
    assert!(e.hint().contains("password_env"), "{e}");

    let e = err(&node_with("redis://cache-a:6379/3", ""));
    assert!(e.to_string().contains("replication is per server"), "{e}");
    assert!(e.hint().contains("remove '/3'"), "{e}");
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
