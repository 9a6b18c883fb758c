//! What the coordinator presents to workers: TLS settings (a private CA to trust, or
//! the system's roots; a client certificate for mutual TLS) and the bearer token.
//! Read once when the plan is made, so a wrong path fails before any work starts, and
//! the token is never printed (its metadata value is marked sensitive).
//!
//! Also turns the TLS failures rustls reports deep in a transport error's chain into
//! one phrase a user can act on.

use std::path::{Path, PathBuf};

use gzfleet_worker::token::{AUTHORIZATION, Token};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// TLS and token settings for every connection to a worker.
#[derive(Debug, Clone, Default)]
pub(crate) struct Credentials {
    pub tls: Option<ClientTlsConfig>,
    /// True when `tls` presents a client certificate.
    client_cert: bool,
    bearer: Option<AsciiMetadataValue>,
}

/// The command line's choices, before the files are read.
#[derive(Debug, Clone, Default)]
pub(crate) struct CredentialFiles<'a> {
    pub tls: bool,
    pub tls_ca: Option<&'a Path>,
    pub tls_cert: Option<&'a Path>,
    pub tls_key: Option<&'a Path>,
    pub token_file: Option<&'a Path>,
}

impl Credentials {
    pub fn load(files: &CredentialFiles<'_>) -> Result<Credentials, String> {
        let token = Token::load(files.token_file).map_err(|e| e.to_string())?;
        let bearer = token
            .map(|t| {
                let mut value = AsciiMetadataValue::try_from(t.bearer())
                    .map_err(|_| "the token cannot travel in a header".to_string())?;
                value.set_sensitive(true);
                Ok::<_, String>(value)
            })
            .transpose()?;
        let wants_tls = files.tls || files.tls_ca.is_some() || files.tls_cert.is_some();
        let tls = match wants_tls {
            false => None,
            true => {
                let mut config = ClientTlsConfig::new();
                config = match files.tls_ca {
                    Some(ca) => config.ca_certificate(Certificate::from_pem(read(ca, "--tls-ca")?)),
                    None => config.with_native_roots(),
                };
                if let (Some(cert), Some(key)) = (files.tls_cert, files.tls_key) {
                    config = config.identity(Identity::from_pem(
                        read(cert, "--tls-cert")?,
                        read(key, "--tls-key")?,
                    ));
                }
                Some(config)
            }
        };
        Ok(Credentials {
            client_cert: tls.is_some() && files.tls_cert.is_some(),
            tls,
            bearer,
        })
    }

    /// Adds the token, if any, to a call's metadata.
    pub fn authorize(&self, metadata: &mut MetadataMap) {
        if let Some(value) = &self.bearer {
            metadata.insert(AUTHORIZATION, value.clone());
        }
    }
}

fn read(path: &Path, flag: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        format!(
            "{flag} {}: {}",
            PathBuf::from(path).display(),
            crate::error::without_os_error(e.to_string())
        )
    })
}

/// How a connection was made, for [`explain_tls`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Handshake {
    pub tls: bool,
    pub client_cert: bool,
    /// The worker's last contact succeeded (a probe or an answer): a connection closed
    /// now is the worker going away (killed, restarted, its host lost), not a TLS
    /// mismatch, which fails the first contact.
    pub answered: bool,
}

impl Credentials {
    pub fn handshake(&self) -> Handshake {
        Handshake {
            tls: self.tls.is_some(),
            client_cert: self.client_cert,
            answered: false,
        }
    }
}

/// A connection failure as the one thing to fix, when it is a TLS one; None leaves the
/// transport's own words. Under TLS 1.3 a worker refuses a client certificate after the
/// client thinks the handshake is done, so that refusal arrives as a closed connection.
pub(crate) fn explain_tls(text: &str, how: Handshake) -> Option<String> {
    let has = |s: &str| text.contains(s);
    let closed = has("connection closed") || has("broken pipe") || has("connection reset");
    let why = if has("UnknownIssuer") || has("unknown issuer") {
        "TLS: the worker's certificate is not signed by a CA this coordinator trusts (give its CA with --tls-ca)"
    } else if has("Expired") || has("expired") {
        "TLS: the worker's certificate has expired (or is not yet valid: check both clocks)"
    } else if has("NotValidForName") || has("not valid for name") {
        "TLS: the worker's certificate is not valid for the name it was reached by (use a name or address in its certificate)"
    } else if has("CertificateRequired") || has("certificate required") {
        "TLS: the worker requires a client certificate (give --tls-cert and --tls-key)"
    } else if has("UnknownCA")
        || has("unknown ca")
        || has("BadCertificate")
        || has("bad certificate")
    {
        "TLS: the worker refused this coordinator's client certificate (not signed by the CA it trusts)"
    } else if how.tls
        && (has("InvalidContentType") || has("corrupt message") || has("HandshakeFailure"))
    {
        "TLS: the worker does not speak TLS here (it serves plaintext: drop --tls/--tls-ca, or start it with --tls-cert)"
    } else if how.answered && closed {
        "the worker went away (it closed the connection)"
    } else if how.tls && closed && !how.client_cert {
        "TLS: the worker closed the connection: it may require a client certificate (give --tls-cert and --tls-key)"
    } else if how.tls && closed {
        "TLS: the worker closed the connection: it may not trust this coordinator's certificate (--tls-cert must be signed by the worker's --client-ca)"
    } else if !how.tls && (closed || has("frame with invalid size")) {
        "the worker closed the connection: it may serve TLS only (give --tls or --tls-ca)"
    } else {
        return None;
    };
    Some(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_verdicts_become_one_actionable_phrase() {
        let tls = Handshake {
            tls: true,
            ..Handshake::default()
        };
        let mutual = Handshake {
            tls: true,
            client_cert: true,
            ..Handshake::default()
        };
        let plain = Handshake::default();
        let t = "tcp connect error: transport error: invalid peer certificate: UnknownIssuer";
        assert!(explain_tls(t, tls).unwrap().contains("--tls-ca"));
        let expired = explain_tls("invalid peer certificate: Expired", tls).unwrap();
        assert!(expired.contains("expired"));
        let name = explain_tls("invalid peer certificate: NotValidForName", tls).unwrap();
        assert!(name.contains("not valid for the name"));
        let plaintext = "received corrupt message of type InvalidContentType";
        assert!(explain_tls(plaintext, tls).unwrap().contains("plaintext"));
        let closed = "transport error: connection closed";
        assert!(
            explain_tls(closed, tls)
                .unwrap()
                .contains("may require a client certificate")
        );
        assert!(explain_tls(closed, mutual).unwrap().contains("--client-ca"));
        assert!(explain_tls(closed, plain).unwrap().contains("TLS only"));
        // A worker that answered before and then closed went away (killed mid-job):
        // no TLS advice, whatever the settings.
        for how in [tls, mutual, plain] {
            let gone = Handshake {
                answered: true,
                ..how
            };
            let why = explain_tls(closed, gone).unwrap();
            assert!(why.contains("went away") && !why.contains("TLS"), "{why}");
            let reset = "error reading a body from connection: connection reset by peer";
            assert!(explain_tls(reset, gone).unwrap().contains("went away"));
        }
        assert!(explain_tls("Connection refused", tls).is_none());
        assert!(explain_tls("Connection refused", plain).is_none());
    }

    #[test]
    fn the_token_is_sent_but_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "zzsecretzz\n").unwrap();
        let c = Credentials::load(&CredentialFiles {
            token_file: Some(&path),
            ..Default::default()
        })
        .unwrap();
        assert!(!format!("{c:?}").contains("zzsecretzz"));
        let mut m = MetadataMap::new();
        c.authorize(&mut m);
        assert_eq!(m.get(AUTHORIZATION).unwrap(), "Bearer zzsecretzz");
        assert!(!format!("{m:?}").contains("zzsecretzz"));
        assert!(c.tls.is_none());
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let e = Credentials::load(&CredentialFiles {
            tls_ca: Some(Path::new("/nonexistent/ca.pem")),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("--tls-ca /nonexistent/ca.pem"), "{e}");
    }
}
