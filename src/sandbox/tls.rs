//! Certificates for a TLS sandbox, made with the `openssl` command: a CA, a server certificate
//! for `127.0.0.1` / `localhost`, and a client certificate (for servers that require one, and
//! for the sandbox's own probes), all signed by that CA, in `<sandbox dir>/tls`.
//!
//! Test material only: short-lived, unencrypted keys in a temp dir. Never used for anything
//! but loopback servers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::{ClientCert, Tls};

use super::SandboxError;

/// How long the certificates are valid, in days: longer than any sandbox lives.
const DAYS: &str = "30";

/// The certificate files of a TLS sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The directory holding them.
    pub dir: PathBuf,
    /// The CA certificate (what clients verify the servers with).
    pub ca_file: PathBuf,
    /// The CA's private key (to sign more certificates).
    pub ca_key: PathBuf,
    /// The servers' certificate (SAN `IP:127.0.0.1`, `DNS:localhost`) and key.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// A client certificate and key signed by the CA.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// Makes every file in `dir` (created if missing).
    ///
    /// # Errors
    /// [`SandboxError::Tls`] when `openssl` is missing or fails, [`SandboxError::Io`] when the
    /// directory cannot be made.
    pub fn make(dir: &Path) -> Result<Self, SandboxError> {
        std::fs::create_dir_all(dir).map_err(|e| SandboxError::io(dir, e))?;
        let f = Self {
            dir: dir.to_path_buf(),
            ca_file: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        };
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                DAYS,
                "-subj",
                "/CN=redops sandbox ca",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ],
        )?;
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .map_err(|e| SandboxError::io(&dir.join("server.ext"), e))?;
        std::fs::write(dir.join("client.ext"), "basicConstraints=CA:FALSE\n")
            .map_err(|e| SandboxError::io(&dir.join("client.ext"), e))?;
        for (name, subject) in [
            ("server", "/CN=127.0.0.1"),
            ("client", "/CN=redops-sandbox"),
        ] {
            let (key, csr, crt, ext) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.crt"),
                format!("{name}.ext"),
            );
            openssl(
                dir,
                &[
                    "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", &key,
                    "-out", &csr,
                ],
            )?;
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    DAYS,
                    "-extfile",
                    &ext,
                    "-out",
                    &crt,
                ],
            )?;
        }
        Ok(f)
    }

    /// The client side: verify with the CA, present the client certificate.
    #[must_use]
    pub fn client(&self) -> Tls {
        Tls {
            ca_file: Some(self.ca_file.clone()),
            client_cert: Some(ClientCert {
                cert_file: self.client_cert.clone(),
                key_file: self.client_key.clone(),
            }),
        }
    }

    /// The server's TLS options (certificate, key, CA for client certificates).
    pub(super) fn server_args(&self) -> Vec<String> {
        let s = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            "--tls-cert-file".into(),
            s(&self.server_cert),
            "--tls-key-file".into(),
            s(&self.server_key),
            "--tls-ca-cert-file".into(),
            s(&self.ca_file),
        ]
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Result<(), SandboxError> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SandboxError::Tls {
            message: format!("cannot run 'openssl': {e}"),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SandboxError::Tls {
            message: format!(
                "'openssl {}' failed: {}",
                args.first().copied().unwrap_or_default(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}
