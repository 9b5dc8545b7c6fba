//! Connection settings of a group or a node: username, password source, TLS and CA bundle.
//!
//! Owns reading passwords (from the environment variable or file the config names) into
//! [`Secret`]s, and checking CA bundles. It must never put a password, or a value written under
//! a password key that may be one, into an error: errors name the variable or the file only.

use std::ops::Range;
use std::path::PathBuf;

use super::{empty, io_reason, Ctx, Result};
use crate::config::error::{quoted, ConfigError, ErrorKind};
use crate::config::raw::{RawConnection, S};
use crate::config::Secret;

/// The connection settings written at one level (group defaults, or a node's own).
#[derive(Debug, Default, Clone)]
pub(super) struct Level {
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub tls: Option<bool>,
    pub ca_file: Option<CaFile>,
    /// Client certificate and key for mutual TLS (redis-cli's `--cert`/`--key`).
    pub cert_file: Option<CaFile>,
    pub key_file: Option<CaFile>,
}

/// A `ca_file` as written, with where it was written (for errors when it is used).
#[derive(Debug, Clone)]
pub(super) struct CaFile {
    pub path: PathBuf,
    pub key: String,
    pub span: Range<usize>,
}

/// Validates the settings written at one level; `prefix` is its key path (`groups[0]`).
pub(super) fn validate_level(raw: &RawConnection, prefix: &str, ctx: &Ctx<'_>) -> Result<Level> {
    let username = match &raw.username {
        Some(v) if v.get_ref().is_empty() => {
            return Err(empty(
                v,
                &format!("{prefix}.username"),
                "username = \"ops\"",
            ));
        }
        Some(v) => Some(v.get_ref().clone()),
        None => None,
    };
    let password = match (&raw.password_env, &raw.password_file) {
        (Some(_), Some(file)) => {
            return Err(ConfigError::new(
                ErrorKind::Conflict,
                "both password_env and password_file are set",
            )
            .with_key(format!("{prefix}.password_file"))
            .with_span(file.span())
            .with_hint("keep one of them: the password comes from one place"));
        }
        (Some(var), None) => Some(password_from_env(
            var,
            &format!("{prefix}.password_env"),
            ctx,
        )?),
        (None, Some(file)) => Some(password_from_file(
            file,
            &format!("{prefix}.password_file"),
            ctx,
        )?),
        (None, None) => None,
    };
    let file_key = |raw: &Option<S<String>>, leaf: &str, example: &str| match raw {
        Some(v) if v.get_ref().trim().is_empty() => {
            Err(empty(v, &format!("{prefix}.{leaf}"), example))
        }
        Some(v) => Ok(Some(CaFile {
            path: ctx.resolve_path(v.get_ref()),
            key: format!("{prefix}.{leaf}"),
            span: v.span(),
        })),
        None => Ok(None),
    };
    Ok(Level {
        username,
        password,
        tls: raw.tls.as_ref().map(|v| *v.get_ref()),
        ca_file: file_key(&raw.ca_file, "ca_file", "ca_file = \"/etc/redops/ca.pem\"")?,
        cert_file: file_key(
            &raw.cert_file,
            "cert_file",
            "cert_file = \"/etc/redops/client.crt\"",
        )?,
        key_file: file_key(
            &raw.key_file,
            "key_file",
            "key_file = \"/etc/redops/client.key\"",
        )?,
    })
}

/// True for a conventional environment variable name (`[A-Za-z_][A-Za-z0-9_]*`).
fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn password_from_env(v: &S<String>, key: &str, ctx: &Ctx<'_>) -> Result<Secret> {
    let name = v.get_ref();
    if !is_env_name(name) {
        // Not quoted: an operator may have pasted the password itself here.
        return Err(
            ConfigError::new(ErrorKind::InvalidValue, "not an environment variable name")
                .with_key(key)
                .with_span(v.span())
                .with_hint(
                    "password_env names the variable that holds the password, e.g. \
             password_env = \"REDIS_OPS_PASSWORD\"; never write the password itself here",
                ),
        );
    }
    let err = |message: String, hint: String| {
        ConfigError::new(ErrorKind::Password, message)
            .with_key(key)
            .with_span(v.span())
            .with_hint(hint)
    };
    match (ctx.env)(name) {
        None => Err(err(
            format!("environment variable {} is not set", quoted(name)),
            format!("export {name} in the shell that starts redops, or use password_file"),
        )),
        Some(value) if value.is_empty() => Err(err(
            format!("environment variable {} is empty", quoted(name)),
            format!("set {name} to the password, or remove password_env if no password is needed"),
        )),
        Some(value) => value.into_string().map(Secret::new).map_err(|_| {
            err(
                format!("environment variable {} is not valid UTF-8", quoted(name)),
                format!("set {name} to the password as UTF-8 text"),
            )
        }),
    }
}

fn password_from_file(v: &S<String>, key: &str, ctx: &Ctx<'_>) -> Result<Secret> {
    let written = v.get_ref();
    if written.trim().is_empty() {
        return Err(empty(v, key, "password_file = \"/etc/redops/password\""));
    }
    let path = ctx.resolve_path(written);
    let shown = quoted(&path.display().to_string());
    let err = |message: String, hint: &str| {
        ConfigError::new(ErrorKind::Password, message)
            .with_key(key)
            .with_span(v.span())
            .with_hint(hint)
    };
    let text = crate::config::read_small_text(&path).map_err(|e| {
        err(
            format!("cannot read password file {shown}: {}", io_reason(&e)),
            "check the path and that the file is readable by this user; redops reads its first line",
        )
    })?;
    let first = text.lines().next().unwrap_or("");
    if first.is_empty() {
        return Err(err(
            format!("password file {shown} is empty"),
            "put the password on the first line of the file",
        ));
    }
    Ok(Secret::new(first))
}

/// Checks that a CA bundle is there, readable, and holds a PEM certificate.
pub(super) fn check_ca_file(ca: &CaFile) -> Result<()> {
    let shown = quoted(&ca.path.display().to_string());
    let err = |message: String, hint: &str| {
        ConfigError::new(ErrorKind::File, message)
            .with_key(ca.key.clone())
            .with_span(ca.span.clone())
            .with_hint(hint)
    };
    let bytes = crate::config::read_small_file(&ca.path).map_err(|e| {
        err(
            format!("cannot read ca_file {shown}: {}", io_reason(&e)),
            "give the path of the CA bundle (PEM) that signed the servers' certificates",
        )
    })?;
    let pem = String::from_utf8_lossy(&bytes);
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(err(
            format!("ca_file {shown} holds no PEM certificate"),
            "the file must contain a -----BEGIN CERTIFICATE----- block",
        ));
    }
    Ok(())
}

/// `ca_file` written at a level where TLS ends up off.
pub(super) fn ca_without_tls(ca: &CaFile) -> ConfigError {
    ConfigError::new(ErrorKind::Conflict, "ca_file is set but tls is off")
        .with_key(ca.key.clone())
        .with_span(ca.span.clone())
        .with_hint("add tls = true to use it, or remove ca_file")
}

/// `cert_file`/`key_file` (the client certificate for mutual TLS): both or neither, with TLS
/// on, and readable as PEM that the TLS library accepts as a certificate and its key.
pub(super) fn validate_client_cert(
    cert: Option<&CaFile>,
    key: Option<&CaFile>,
    tls_on: bool,
) -> Result<Option<crate::config::ClientCert>> {
    let (cert, key) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        (Some(one), None) | (None, Some(one)) => {
            return Err(ConfigError::new(
                ErrorKind::Conflict,
                "a client certificate needs both cert_file and key_file",
            )
            .with_key(one.key.clone())
            .with_span(one.span.clone())
            .with_hint("give both, as redis-cli's --cert and --key, or neither"));
        }
    };
    if !tls_on {
        return Err(
            ConfigError::new(ErrorKind::Conflict, "cert_file is set but tls is off")
                .with_key(cert.key.clone())
                .with_span(cert.span.clone())
                .with_hint("add tls = true to use it, or remove cert_file and key_file"),
        );
    }
    let read = |f: &CaFile| {
        crate::config::read_small_file(&f.path).map_err(|e| {
            ConfigError::new(
                ErrorKind::File,
                format!(
                    "cannot read {} {}: {}",
                    f.key.rsplit('.').next().unwrap_or("file"),
                    quoted(&f.path.display().to_string()),
                    io_reason(&e)
                ),
            )
            .with_key(f.key.clone())
            .with_span(f.span.clone())
            .with_hint("give the path of a PEM file readable by this user")
        })
    };
    let (cert_pem, key_pem) = (read(cert)?, read(key)?);
    if let Err(e) = native_tls::Identity::from_pkcs8(&cert_pem, &key_pem) {
        return Err(ConfigError::new(
            ErrorKind::File,
            format!("unusable client certificate or key: {e}"),
        )
        .with_key(key.key.clone())
        .with_span(key.span.clone())
        .with_hint(
            "cert_file holds the PEM certificate, key_file its PEM private key in PKCS#8 \
             (-----BEGIN PRIVATE KEY-----; convert with openssl pkcs8 -topk8 -nocrypt)",
        ));
    }
    Ok(Some(crate::config::ClientCert {
        cert_file: cert.path.clone(),
        key_file: key.path.clone(),
    }))
}
