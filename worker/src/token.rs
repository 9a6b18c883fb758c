//! The shared secret a coordinator presents and a worker checks: read from a file or
//! `GZFLEET_TOKEN`, never from the command line (where `ps` shows it to every user), and
//! never printed: [`Token`]'s `Debug` hides it and no error carries it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use subtle::ConstantTimeEq;

/// The environment variable a token may come from instead of `--token-file`.
pub const TOKEN_ENV: &str = "GZFLEET_TOKEN";

/// The gRPC metadata key (HTTP header) the token travels in, as `Bearer TOKEN`.
pub const AUTHORIZATION: &str = "authorization";

#[derive(Clone)]
pub struct Token(Arc<str>);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the token file {}: {source}", .path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is empty: put the token in it (for example from `openssl rand -hex 32`)")]
    Empty(String),
    #[error(
        "{0} holds characters a token cannot have: use printable ASCII without spaces (for example from `openssl rand -hex 32`)"
    )]
    Invalid(String),
    #[error("cannot create the token file {}: {source}", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot draw random bytes for a new token: {0}")]
    Random(String),
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(hidden)")
    }
}

impl Token {
    /// The token from `file` if given, else from `GZFLEET_TOKEN`; None when neither is set.
    pub fn load(file: Option<&Path>) -> Result<Option<Token>, TokenError> {
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| TokenError::File {
                    path: path.to_path_buf(),
                    source,
                })?;
                Token::parse(&text, &format!("the token file {}", path.display())).map(Some)
            }
            None => match std::env::var_os(TOKEN_ENV) {
                None => Ok(None),
                Some(value) => match value.to_str() {
                    Some(text) => Token::parse(text, TOKEN_ENV).map(Some),
                    None => Err(TokenError::Invalid(TOKEN_ENV.into())),
                },
            },
        }
    }

    /// A file written by `echo` or an editor ends in a newline, which is not part of
    /// the token; anything else outside visible ASCII could not travel in a header.
    pub fn parse(text: &str, origin: &str) -> Result<Token, TokenError> {
        let token = text.trim_end_matches(['\n', '\r']);
        if token.is_empty() {
            return Err(TokenError::Empty(origin.into()));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::Invalid(origin.into()));
        }
        Ok(Token(token.into()))
    }

    /// The `authorization` value that presents this token.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Whether `value` (an `authorization` header) presents this token. Compared in
    /// constant time, so the time a refusal takes says nothing about how much of a
    /// guess was right.
    pub fn accepts(&self, value: &[u8]) -> bool {
        let expected = self.bearer();
        bool::from(expected.as_bytes().ct_eq(value))
    }
}

/// `--init-token FILE`: make sure FILE holds a token, for a fleet whose members share
/// one volume (docker-compose's first `up`) and no one to run `openssl rand` for them.
/// An existing file is kept (and must hold a valid token), so every later `up` reuses
/// it; otherwise `GZFLEET_TOKEN` if set (a token from an env file), else 32 random bytes
/// in hex. Returns whether it created the file.
///
/// The file appears whole or not at all: it is written under a temporary name and
/// hard-linked into place, which fails rather than replaces if another member won the
/// race. It is readable by all (0444) because the members may run as different users;
/// the volume it sits in is what keeps it private.
pub fn init_file(path: &Path) -> Result<bool, TokenError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    if path.exists() {
        Token::load(Some(path))?;
        return Ok(false);
    }
    // Empty counts as unset: docker-compose passes `${GZFLEET_TOKEN:-}` through as "".
    let text = match std::env::var_os(TOKEN_ENV).filter(|v| !v.is_empty()) {
        Some(_) => Token::load(None)?
            .map(|t| t.0.to_string())
            .unwrap_or_default(),
        None => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }
    };
    let create = |source| TokenError::Create {
        path: path.to_path_buf(),
        source,
    };
    // A random name, not the process id: in a container every member is pid 1, and
    // a temporary file left by a killed member must not look like a rival's.
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| TokenError::Random(e.to_string()))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("token"),
        nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(&tmp)
        .map_err(create)?;
    let written = file
        .write_all(format!("{text}\n").as_bytes())
        .and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(create(e));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        // Another member made it first: theirs is the fleet's token.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Token::load(Some(path))?;
            Ok(false)
        }
        Err(e) => Err(create(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_newline_is_not_part_of_the_token() {
        let t = Token::parse("s3cret\n", "test").unwrap();
        assert!(t.accepts(b"Bearer s3cret"));
        assert!(!t.accepts(b"Bearer s3cret\n"));
        assert!(!t.accepts(b"Bearer s3cre"));
        assert!(!t.accepts(b"s3cret"));
        assert!(!t.accepts(b""));
    }

    #[test]
    fn empty_and_unprintable_tokens_are_refused_without_echoing_them() {
        assert!(matches!(Token::parse("\n", "f"), Err(TokenError::Empty(_))));
        let e = Token::parse("has space", "f").unwrap_err();
        assert!(matches!(e, TokenError::Invalid(_)));
        assert!(!e.to_string().contains("has space"));
        assert!(Token::parse("tab\there", "f").is_err());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let t = Token::parse("topsecret", "f").unwrap();
        assert!(!format!("{t:?}").contains("topsecret"));
    }

    #[test]
    fn a_file_is_read_and_a_missing_one_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc123\n").unwrap();
        let t = Token::load(Some(&path)).unwrap().unwrap();
        assert!(t.accepts(b"Bearer abc123"));
        let e = Token::load(Some(&dir.path().join("none"))).unwrap_err();
        assert!(e.to_string().contains("none"), "{e}");
    }

    #[test]
    fn init_creates_a_random_token_once_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        // Not set in the test environment: the token is drawn at random.
        assert!(std::env::var_os(TOKEN_ENV).is_none_or(|v| v.is_empty()));
        assert!(init_file(&path).unwrap());
        let first = std::fs::read_to_string(&path).unwrap();
        assert_eq!(first.trim_end().len(), 64, "{first:?}");
        assert!(Token::load(Some(&path)).unwrap().is_some());
        assert!(!init_file(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
        let other = dir.path().join("other");
        init_file(&other).unwrap();
        assert_ne!(std::fs::read_to_string(&other).unwrap(), first);
        // No temporary file is left beside them.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn init_refuses_an_existing_file_that_holds_no_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(init_file(&path), Err(TokenError::Empty(_))));
        let missing = dir.path().join("no/such/dir/token");
        let e = init_file(&missing).unwrap_err();
        assert!(e.to_string().contains("no/such/dir"), "{e}");
    }
}
