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
}
