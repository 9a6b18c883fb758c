//! Who may use this worker: TLS (and, with a client CA, only coordinators holding a
//! certificate it signed), the bearer token every Compress and Info call must present,
//! and the rule that a worker reachable from other machines is never open by accident.
//!
//! The health service is left outside the token check on purpose: it tells only
//! whether the worker is serving, and Kubernetes' gRPC probes and `--check` cannot
//! present a token. Mutual TLS, done in the handshake, covers every service.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use tonic::{Request, Status};

use crate::token::{AUTHORIZATION, Token, TokenError};

/// How the worker is reached and who may use it, resolved from its flags.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub tls: Option<ServerTlsConfig>,
    /// True when `tls` also requires client certificates.
    pub mutual: bool,
    pub token: Option<Token>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read {what} {}: {source}", .path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {} holds no PEM {expected}", .path.display())]
    NotPem {
        what: &'static str,
        path: PathBuf,
        expected: &'static str,
    },
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(
        "refusing to serve {0} without TLS or a token: anyone who reaches it could use it. Give --token-file (or GZFLEET_TOKEN) or --tls-cert/--tls-key, listen on 127.0.0.1, or add --insecure on a network you trust"
    )]
    Open(SocketAddr),
}

/// The files named on the command line.
#[derive(Debug, Clone, Default)]
pub struct AccessFiles<'a> {
    pub tls_cert: Option<&'a Path>,
    pub tls_key: Option<&'a Path>,
    pub client_ca: Option<&'a Path>,
    pub token_file: Option<&'a Path>,
    pub insecure: bool,
}

impl Access {
    /// Reads every file once, at start, so a wrong path fails before the worker listens,
    /// and applies the open-listener rule to `listen`.
    pub fn load(files: &AccessFiles<'_>, listen: SocketAddr) -> Result<Access, AccessError> {
        let token = Token::load(files.token_file)?;
        let tls = match (files.tls_cert, files.tls_key) {
            (Some(cert), Some(key)) => {
                let cert = read_pem(cert, "the certificate", "CERTIFICATE")?;
                let key = read_pem(key, "the key", "PRIVATE KEY")?;
                let mut config = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
                if let Some(ca) = files.client_ca {
                    let ca = read_pem(ca, "the client CA", "CERTIFICATE")?;
                    config = config.client_ca_root(Certificate::from_pem(ca));
                }
                Some(config)
            }
            // clap requires both or neither.
            _ => None,
        };
        if tls.is_none() && token.is_none() && !files.insecure && !listen.ip().is_loopback() {
            return Err(AccessError::Open(listen));
        }
        Ok(Access {
            mutual: tls.is_some() && files.client_ca.is_some(),
            tls,
            token,
        })
    }

    /// How the worker is protected, for its start line (never the token itself).
    pub fn describe(&self) -> String {
        let transport = match (&self.tls, self.mutual) {
            (None, _) => "plaintext",
            (Some(_), false) => "TLS",
            (Some(_), true) => "mutual TLS",
        };
        match self.token {
            Some(_) => format!("{transport}, token required"),
            None => transport.to_string(),
        }
    }
}

fn read_pem(
    path: &Path,
    what: &'static str,
    expected: &'static str,
) -> Result<Vec<u8>, AccessError> {
    let bytes = std::fs::read(path).map_err(|source| AccessError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    // tonic parses the PEM only when the first client connects; a wrong file should
    // fail at start, named.
    let found = String::from_utf8_lossy(&bytes)
        .lines()
        .any(|l| l.starts_with("-----BEGIN ") && l.contains(expected));
    if !found {
        return Err(AccessError::NotPem {
            what,
            path: path.to_path_buf(),
            expected,
        });
    }
    Ok(bytes)
}

/// Refuses a call without the worker's token, before its message is read.
#[derive(Clone)]
pub struct TokenCheck(pub Option<Token>);

impl tonic::service::Interceptor for TokenCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(token) = &self.0 else {
            return Ok(request);
        };
        match request.metadata().get(AUTHORIZATION) {
            Some(value) if token.accepts(value.as_bytes()) => Ok(request),
            Some(_) => Err(Status::unauthenticated(
                "authentication failed: wrong token (the coordinator's --token-file or GZFLEET_TOKEN must match the worker's)",
            )),
            None => Err(Status::unauthenticated(
                "authentication failed: this worker requires a token (give the coordinator --token-file or GZFLEET_TOKEN)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor;

    fn files() -> AccessFiles<'static> {
        AccessFiles::default()
    }

    #[test]
    fn an_open_listener_needs_protection_or_insecure() {
        let any: SocketAddr = "0.0.0.0:7070".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:7070".parse().unwrap();
        let lo6: SocketAddr = "[::1]:7070".parse().unwrap();
        let e = Access::load(&files(), any).unwrap_err();
        assert!(
            e.to_string().contains("refusing to serve 0.0.0.0:7070"),
            "{e}"
        );
        assert!(Access::load(&files(), lo).is_ok());
        assert!(Access::load(&files(), lo6).is_ok());
        let insecure = AccessFiles {
            insecure: true,
            ..files()
        };
        assert_eq!(
            Access::load(&insecure, any).unwrap().describe(),
            "plaintext"
        );
    }

    #[test]
    fn a_token_file_is_protection_enough() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, "x1\n").unwrap();
        let with = AccessFiles {
            token_file: Some(&path),
            ..files()
        };
        let a = Access::load(&with, "0.0.0.0:1".parse().unwrap()).unwrap();
        assert_eq!(a.describe(), "plaintext, token required");
    }

    #[test]
    fn files_that_are_not_pem_fail_at_start_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        let f = AccessFiles {
            tls_cert: Some(&cert),
            tls_key: Some(&cert),
            ..files()
        };
        let e = Access::load(&f, "127.0.0.1:1".parse().unwrap()).unwrap_err();
        assert!(
            e.to_string().contains("cert.pem holds no PEM CERTIFICATE"),
            "{e}"
        );
        let missing = dir.path().join("missing.pem");
        let f = AccessFiles {
            tls_cert: Some(&missing),
            tls_key: Some(&cert),
            ..files()
        };
        let e = Access::load(&f, "127.0.0.1:1".parse().unwrap()).unwrap_err();
        assert!(e.to_string().contains("missing.pem"), "{e}");
    }

    #[test]
    fn calls_without_the_token_are_refused_before_their_message() {
        let token = Token::parse("right", "t").unwrap();
        let mut check = TokenCheck(Some(token));
        let e = check.call(Request::new(())).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        let mut wrong = Request::new(());
        wrong
            .metadata_mut()
            .insert(AUTHORIZATION, "Bearer wrong".parse().unwrap());
        let e = check.call(wrong).unwrap_err();
        assert!(e.message().contains("wrong token") && !e.message().contains("right"));
        let mut good = Request::new(());
        good.metadata_mut()
            .insert(AUTHORIZATION, "Bearer right".parse().unwrap());
        assert!(check.call(good).is_ok());
        assert!(TokenCheck(None).call(Request::new(())).is_ok());
    }
}
