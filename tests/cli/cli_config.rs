//! The configuration files against the library loader and the real binary.
//!
//! Every file in `tests/configs/invalid/` opens with comment lines saying what must be reported:
//!
//! ```text
//! # expect: groups[0].nodes[1].addr @ 11:8     (key, or "-" when none; then line:column)
//! # env: NAME=VALUE                             (set for the run; may repeat)
//! # env-remove: NAME                            (made sure to be unset; may repeat)
//! # secret: VALUE                               (must never appear in the output)
//! ```
//!
//! `redops check-config --config FILE` must exit 2 and print the file, line:column, key and a
//! hint for each of them, and exit 0 for every file in `sample-configs/`.

#![allow(clippy::unwrap_used)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use redops::config::{load_file_with_env, ConfigError, Location};

/// The password the samples' `password_env` variables are set to.
const SAMPLE_PASSWORD: &str = "sample-pa55word-not-to-be-seen";

#[derive(Debug, Default)]
struct Expect {
    key: Option<String>,
    line: usize,
    column: usize,
    env: Vec<(String, String)>,
    env_remove: Vec<String>,
    secrets: Vec<String>,
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.toml` files of a folder, sorted.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn parse_expect(path: &Path) -> Expect {
    let text = std::fs::read_to_string(path).unwrap();
    let mut expect = Expect::default();
    let mut found = false;
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let line = line.trim_start_matches('#').trim();
        if let Some(rest) = line.strip_prefix("expect:") {
            let (key, at) = rest.split_once('@').expect("expect: KEY @ LINE:COL");
            let key = key.trim();
            expect.key = (key != "-").then(|| key.to_string());
            let (l, c) = at.trim().split_once(':').expect("LINE:COL");
            expect.line = l.parse().unwrap();
            expect.column = c.parse().unwrap();
            found = true;
        } else if let Some(rest) = line.strip_prefix("env:") {
            let (k, v) = rest.trim().split_once('=').expect("env: NAME=VALUE");
            expect.env.push((k.to_string(), v.to_string()));
        } else if let Some(rest) = line.strip_prefix("env-remove:") {
            expect.env_remove.push(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("secret:") {
            expect.secrets.push(rest.trim().to_string());
        }
    }
    assert!(found, "{} has no '# expect:' line", path.display());
    expect
}

fn invalid_files() -> Vec<PathBuf> {
    let files = toml_files(&manifest_dir().join("tests/configs/invalid"));
    assert!(files.len() >= 30, "only {} invalid configs", files.len());
    files
}

/// The expectations hold for the library loader itself (with an environment built from the
/// headers only, so nothing from the test runner's environment leaks in).
#[test]
fn invalid_configs_fail_in_the_library() {
    let mut failures = Vec::new();
    for path in invalid_files() {
        let expect = parse_expect(&path);
        let env = expect.env.clone();
        let lookup = move |name: &str| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        };
        let name = path.display();
        let e: ConfigError = match load_file_with_env(&path, &lookup) {
            Ok(_) => {
                failures.push(format!("{name}: loaded without error"));
                continue;
            }
            Err(e) => e,
        };
        let at = Location {
            line: expect.line,
            column: expect.column,
        };
        if e.key() != expect.key.as_deref() || e.location() != Some(at) {
            failures.push(format!(
                "{name}: expected {:?} @ {at}, got {:?} @ {:?}\n{e}",
                expect.key,
                e.key(),
                e.location()
            ));
        }
        if e.file() != Some(path.as_path()) || e.hint().is_empty() {
            failures.push(format!("{name}: no file or no hint\n{e}"));
        }
        for secret in &expect.secrets {
            if e.to_string().contains(secret) || format!("{e:?}").contains(secret) {
                failures.push(format!("{name}: secret shown"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn check_config(path: &Path) -> Command {
    let mut cmd = Command::cargo_bin("redops").unwrap();
    cmd.arg("check-config").arg("--config").arg(path);
    cmd
}

#[test]
fn invalid_configs_exit_2_with_location_key_and_hint() {
    let mut failures = Vec::new();
    for path in invalid_files() {
        let expect = parse_expect(&path);
        let mut cmd = check_config(&path);
        for name in &expect.env_remove {
            cmd.env_remove(name);
        }
        for (k, v) in &expect.env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let name = path.display();
        let at = format!("{}:{}:{}", path.display(), expect.line, expect.column);
        let key_shown = expect
            .key
            .as_ref()
            .is_none_or(|k| stderr.contains(k.as_str()));
        if out.status.code() != Some(2)
            || !stderr.contains(&at)
            || !key_shown
            || !stderr.contains("hint:")
        {
            failures.push(format!(
                "{name}: expected exit 2, '{at}', key {:?} and a hint; got {:?}\n{stderr}",
                expect.key,
                out.status.code()
            ));
        }
        for secret in &expect.secrets {
            if stderr.contains(secret.as_str()) || stdout.contains(secret.as_str()) {
                failures.push(format!("{name}: secret shown"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn sample_configs_pass() {
    let samples = toml_files(&manifest_dir().join("sample-configs"));
    assert!(samples.len() >= 6, "only {} samples", samples.len());
    for path in samples {
        let out = check_config(&path)
            .env("REDIS_OPS_PASSWORD", SAMPLE_PASSWORD)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = path.display();
        assert_eq!(out.status.code(), Some(0), "{name}:\n{stderr}");
        assert!(!stdout.trim().is_empty(), "{name}: no summary");
        assert!(!stdout.contains(SAMPLE_PASSWORD), "{name}: password shown");
        assert!(!stderr.contains(SAMPLE_PASSWORD), "{name}: password shown");
    }
}

#[test]
fn missing_config_file_exits_2_with_a_way_forward() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let out = check_config(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
    assert!(
        stderr.contains("--node") && stderr.contains("redops sandbox"),
        "{stderr}"
    );
}

#[test]
fn password_env_sample_fails_without_its_variable() {
    let path = manifest_dir().join("sample-configs/tls-acl.toml");
    let out = check_config(&path)
        .env_remove("REDIS_OPS_PASSWORD")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("'REDIS_OPS_PASSWORD' is not set"),
        "{stderr}"
    );
    assert!(stderr.contains("groups[0].password_env"), "{stderr}");
}
