use super::{builtins, find, parse};

#[test]
fn every_builtin_parses_and_checks() {
    let all = builtins().unwrap();
    let ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "master-crash",
            "sentinel-failover",
            "planned-switchover",
            "lagging-replica",
            "split-brain",
            "stale-old-master",
            "persistence-off-primary",
            "wrong-replicaof",
            "restore-from-snapshot",
            "cluster-shard-failover"
        ]
    );
    assert!(
        all.iter().all(|d| d.disabled.is_none()),
        "every built-in drill runs"
    );
    for d in &all {
        assert!(!d.solution.is_empty(), "{} has a reference solution", d.id);
    }
}

const SMALL: &str = r#"
id = "mine"
title = "t"
incident = "i"
time_limit = "1m"

[[steps]]
goal = "g"
until = { primary_is = { node = "n1" } }
"#;

#[test]
fn a_small_drill_parses_with_defaults() {
    let d = parse(SMALL, "mine.toml").unwrap();
    assert_eq!(d.sandbox.replicas, 2);
    assert_eq!(d.steps[0].faults.len(), 0);
}

#[test]
fn an_unknown_key_is_refused_with_its_place_and_a_hint() {
    let text = SMALL.replace("goal = \"g\"", "goal = \"g\"\ngaol = \"x\"");
    let e = parse(&text, "mine.toml").unwrap_err();
    assert!(e.message.contains("unknown field `gaol`"), "{e}");
    assert_eq!(e.at.as_deref(), Some("mine.toml:9:1"));
    assert!(e.hint.contains("README"), "{e}");
}

#[test]
fn an_unknown_fault_key_is_refused() {
    let text = SMALL.replace(
        "goal = \"g\"",
        "goal = \"g\"\nfaults = [{ kind = \"kill\", node = \"n1\", nod = \"n2\" }]",
    );
    let e = parse(&text, "mine.toml").unwrap_err();
    assert!(e.message.contains("unknown field `nod`"), "{e}");
    assert!(
        e.at.as_deref()
            .is_some_and(|a| a.starts_with("mine.toml:9:")),
        "{e}"
    );
}

#[test]
fn a_node_the_sandbox_does_not_have_is_refused() {
    let text = SMALL.replace("node = \"n1\"", "node = \"n9\"");
    let e = parse(&text, "mine.toml").unwrap_err();
    assert!(e.message.contains("'n9'"), "{e}");
    assert!(e.hint.contains("n1, n2, n3"), "{e}");
}

#[test]
fn a_bad_duration_is_refused() {
    let text = SMALL.replace("\"1m\"", "\"soon\"");
    let e = parse(&text, "mine.toml").unwrap_err();
    assert!(e.message.contains("not a duration"), "{e}");
    assert_eq!(e.at.as_deref(), Some("mine.toml:5:14"));
}

#[test]
fn unknown_names_and_files_are_explained() {
    let e = find("no-such-drill").unwrap_err();
    assert!(e.hint.contains("master-crash"), "{e}");
    let e = find("/nonexistent/drill.toml").unwrap_err();
    assert!(e.message.contains("cannot read drill file"), "{e}");
    let e = find("/dev/zero.toml").unwrap_err();
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn the_readme_example_is_a_valid_drill() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("id = \"replica-restart\"")
        .expect("the README has the example drill");
    let end = start + readme[start..].find("```").expect("the example ends");
    let d = parse(&readme[start..end], "README.md").unwrap();
    assert_eq!(d.steps[0].faults.len(), 1);
}

#[test]
fn a_directory_or_an_oversized_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_file = dir.path().join("d.toml");
    std::fs::create_dir(&not_a_file).unwrap();
    let e = super::load_file(&not_a_file).unwrap_err();
    assert!(e.message.contains("cannot read drill file"), "{e}");
    let big = dir.path().join("big.toml");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(crate::config::MAX_FILE_BYTES + 1).unwrap();
    let e = super::load_file(&big).unwrap_err();
    assert!(e.message.contains("larger than 4 MB"), "{e}");
}

#[test]
fn sizes_past_what_a_sandbox_holds_are_refused() {
    let text = SMALL.replace(
        "[[steps]]",
        "[sandbox]\ndata_keys = 5000000000\n\n[[steps]]",
    );
    let e = parse(&text, "mine.toml").unwrap_err();
    assert!(e.message.contains("data_keys"), "{e}");
    let text = SMALL.replace("[[steps]]", "[sandbox]\nwriter_rate = 1000000\n\n[[steps]]");
    assert!(parse(&text, "mine.toml").is_err());
    let text = SMALL.replace(
        "goal = \"g\"",
        "goal = \"g\"\nfaults = [{ kind = \"fill\", node = \"n1\", keys = 99999999 }]",
    );
    let e = parse(&text, "mine.toml").unwrap_err();
    assert!(e.message.contains("fills 99999999 keys"), "{e}");
}

#[test]
fn never_promote_names_a_node_of_the_sandbox() {
    let text = SMALL.replace(
        "[[steps]]",
        "[sandbox]\nsentinels = 3\nnever_promote = [\"n9\"]\n\n[[steps]]",
    );
    let e = parse(&text, "mine.toml").unwrap_err();
    assert!(e.message.contains("never_promote names node 'n9'"), "{e}");
    let text = SMALL.replace("[[steps]]", "[sandbox]\nsentinels = 9\n\n[[steps]]");
    let e = parse(&text, "mine.toml").unwrap_err();
    assert!(e.message.contains("9 sentinels"), "{e}");
}

#[test]
fn a_cluster_sandbox_names_its_nodes_and_refuses_single_group_settings() {
    let cluster = |extra: &str| {
        format!(
            "id = \"c\"\ntitle = \"t\"\nincident = \"i\"\ntime_limit = \"1m\"\n\
             [sandbox]\ncluster = \"3x1\"\ndata_keys = 0\n{extra}\n\
             [[steps]]\ngoal = \"g\"\nuntil = {{ shard_primary = {{ slot = 0, node = \"n6\" }} }}\n"
        )
    };
    let d = parse(&cluster(""), "c.toml").unwrap();
    assert_eq!(super::node_names(&d).len(), 6);
    let e = parse(&cluster("spare = 1"), "c.toml").unwrap_err();
    assert!(e.message.contains("sandbox.spare"), "{e}");
    let e = parse(&cluster("").replace("n6", "n7"), "c.toml").unwrap_err();
    assert!(e.message.contains("'n7'"), "{e}");
    let e = parse(&cluster("").replace("3x1", "3y1"), "c.toml").unwrap_err();
    assert!(e.message.starts_with("sandbox.cluster:"), "{e}");
    assert!(e.hint.contains("3x1"), "{e}");
}
