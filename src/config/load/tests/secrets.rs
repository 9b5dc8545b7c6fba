//! Passwords and TLS: reading secrets, their errors, inheritance, and that no secret shows.

use std::path::Path;

use super::{assert_no_secret, check, err, load, GROUP, SECRET};
use crate::config::ErrorKind;

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
