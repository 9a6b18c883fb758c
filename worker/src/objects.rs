//! Objects in stores (S3 and S3-compatible, or plain HTTP(S)) as both ends reach
//! them: a URL named on the command line or in a pull request, opened through the
//! `object_store` crate with this machine's credentials from the standard environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT`,
//! `AWS_ALLOW_HTTP` for a local endpoint).
//!
//! A range is read only if the object is still the version that was planned (its
//! size, and its ETag checked by the store itself with If-Match), so two versions are
//! never mixed.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreScheme};
use url::Url;

use crate::engine::MAX_DICTIONARY;

/// Schemes named as objects rather than files.
const SCHEMES: [&str; 6] = ["s3://", "s3a://", "gs://", "az://", "http://", "https://"];

/// Whether `name` names an object (by its scheme) rather than a file.
pub fn is_object(name: &str) -> bool {
    SCHEMES.iter().any(|s| name.starts_with(s))
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("{url}: not an object URL this gzfleet reads: {why}")]
    Url { url: String, why: String },
    #[error("{url}: {}", chain(source))]
    Store {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{url}: changed, or differs: {what}, expected {expected}")]
    Differs {
        url: String,
        what: String,
        expected: String,
    },
}

/// An object: its store and its path in it.
#[derive(Debug, Clone)]
pub struct Object {
    pub url: String,
    store: Arc<dyn ObjectStore>,
    path: Path,
}

/// What identifies the version of an object a run planned with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub size: u64,
    /// None when the store gives none (then only the size is checked).
    pub etag: Option<String>,
    /// Last modification, seconds since the epoch (for the gzip header).
    pub modified: i64,
}

/// An error with every cause under it: a store's top-level message ("Generic HTTP
/// error") rarely says what went wrong, the connection refused three levels down does.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let more = e.to_string();
        // Many errors repeat their source in their own message.
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = e.source();
    }
    text
}

/// Configuration from the environment (every `AWS_*` variable, as the stores read
/// it), plus plain HTTP for an `http://` URL: naming one is asking for it.
fn options(url: &str) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    if url.starts_with("http://") {
        options.push(("allow_http".into(), "true".into()));
    }
    options
}

impl Object {
    pub fn open(url: &str) -> Result<Object, ObjectError> {
        let bad = |why: String| ObjectError::Url {
            url: url.into(),
            why,
        };
        let parsed = Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let (scheme, _) = ObjectStoreScheme::parse(&parsed).map_err(|e| bad(e.to_string()))?;
        if !matches!(
            scheme,
            ObjectStoreScheme::AmazonS3 | ObjectStoreScheme::Http
        ) {
            return Err(bad(format!(
                "{scheme:?} stores are not built in (S3 and HTTP(S) are)"
            )));
        }
        let (store, path) =
            object_store::parse_url_opts(&parsed, options(url)).map_err(|source| {
                ObjectError::Store {
                    url: url.into(),
                    source,
                }
            })?;
        Ok(Object {
            url: url.into(),
            store: Arc::from(store),
            path,
        })
    }

    /// The last segment of its path: the name gzip would store.
    pub fn name(&self) -> Option<String> {
        self.path.filename().map(str::to_string)
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn store_error(&self, source: object_store::Error) -> ObjectError {
        ObjectError::Store {
            url: self.url.clone(),
            source,
        }
    }

    pub async fn version(&self) -> Result<Version, ObjectError> {
        let meta = self
            .store
            .head(&self.path)
            .await
            .map_err(|e| self.store_error(e))?;
        Ok(Version {
            size: meta.size,
            etag: meta.e_tag,
            modified: meta.last_modified.timestamp(),
        })
    }

    /// Bytes `range` of `version`; a newer version is refused.
    pub async fn read(&self, range: Range<u64>, version: &Version) -> Result<Bytes, ObjectError> {
        if range.end > version.size {
            return Err(ObjectError::Differs {
                url: self.url.clone(),
                what: format!("bytes {}..{} asked", range.start, range.end),
                expected: format!("{} bytes", version.size),
            });
        }
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let options = GetOptions {
            if_match: version.etag.clone(),
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        let got = self.store.get_opts(&self.path, options).await;
        let got = got.map_err(|e| match e {
            object_store::Error::Precondition { .. } => ObjectError::Differs {
                url: self.url.clone(),
                what: "another version".into(),
                expected: format!("ETag {}", version.etag.as_deref().unwrap_or("?")),
            },
            e => self.store_error(e),
        })?;
        if got.meta.size != version.size {
            return Err(ObjectError::Differs {
                url: self.url.clone(),
                what: format!("{} bytes", got.meta.size),
                expected: format!("{} bytes", version.size),
            });
        }
        got.bytes().await.map_err(|e| self.store_error(e))
    }

    /// A chunk and the 32 KiB before it (unless `dictionary` is false), in one read.
    pub async fn read_chunk(
        &self,
        offset: u64,
        length: u64,
        dictionary: bool,
        version: &Version,
    ) -> Result<(Bytes, Bytes), ObjectError> {
        let before = if dictionary {
            offset.min(MAX_DICTIONARY as u64)
        } else {
            0
        };
        let Some(end) = offset.checked_add(length) else {
            return Err(ObjectError::Differs {
                url: self.url.clone(),
                what: format!("bytes {offset}+{length} asked"),
                expected: format!("{} bytes", version.size),
            });
        };
        let all = self.read(offset - before..end, version).await?;
        Ok((all.slice(..before as usize), all.slice(before as usize..)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_told_by_their_scheme() {
        assert!(is_object("s3://bucket/key"));
        assert!(is_object("https://example.com/data.tar"));
        assert!(!is_object("data.tar"));
        assert!(!is_object("./s3:/odd"));
    }

    #[test]
    fn unsupported_or_broken_urls_are_named() {
        let e = Object::open("s3://").unwrap_err();
        assert!(e.to_string().starts_with("s3://: "), "{e}");
        let gs = Object::open("gs://bucket/key").unwrap_err();
        assert!(gs.to_string().contains("not built in"), "{gs}");
    }

    #[test]
    fn a_store_error_names_its_causes() {
        // As reqwest's errors are: a message that keeps its cause to itself.
        #[derive(Debug)]
        struct Quiet(std::io::Error);
        impl std::fmt::Display for Quiet {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request")
            }
        }
        impl std::error::Error for Quiet {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let cause = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused here");
        let e = ObjectError::Store {
            url: "s3://b/k".into(),
            source: object_store::Error::Generic {
                store: "S3",
                source: Box::new(Quiet(cause)),
            },
        };
        let text = e.to_string();
        assert!(text.starts_with("s3://b/k: "), "{text}");
        assert!(text.contains("refused here"), "{text}");
    }
}
