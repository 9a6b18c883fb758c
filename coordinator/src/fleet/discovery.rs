//! Where the workers are: addresses named on the command line or in GZFLEET_WORKERS,
//! a file of addresses, and `dns:NAME:PORT` names whose every address is a worker (a
//! Kubernetes headless service). Files and names are read again while a job runs, so
//! workers can come and go.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One way of naming workers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Addr(String),
    Dns { host: String, port: u16 },
    File(PathBuf),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Discovery {
    entries: Vec<Entry>,
    /// The DNS name each address was last found by: the name its TLS certificate
    /// holds (a Kubernetes pod's IP is in no certificate; its service's name is).
    names: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Discovery {
    /// `lists` are comma-separated lists of HOST:PORT or dns:NAME:PORT.
    pub fn new(lists: &[String], file: Option<PathBuf>) -> Result<Self, String> {
        let mut entries = Vec::new();
        for entry in lists.iter().flat_map(|e| e.split(',')) {
            let entry = entry.trim();
            if !entry.is_empty() {
                entries.push(parse_entry(entry)?);
            }
        }
        entries.extend(file.map(Entry::File));
        Ok(Discovery {
            entries,
            names: Arc::default(),
        })
    }

    /// The name to check `addr`'s certificate against when it was found through DNS.
    pub fn server_name(&self, addr: &str) -> Option<String> {
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.get(addr).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when a later resolve may find other workers.
    pub fn is_dynamic(&self) -> bool {
        self.entries.iter().any(|e| !matches!(e, Entry::Addr(_)))
    }

    /// Current worker addresses (sorted, deduplicated) and what could not be read.
    pub async fn resolve(&self) -> (Vec<String>, Vec<String>) {
        let mut found = BTreeSet::new();
        let mut errors = Vec::new();
        for entry in &self.entries {
            match entry {
                Entry::File(path) => match std::fs::read_to_string(path) {
                    Ok(text) => {
                        for line in text.lines() {
                            let line = line.split('#').next().unwrap_or("").trim();
                            match parse_entry(line) {
                                _ if line.is_empty() => {}
                                Ok(entry) => self.lookup(&entry, &mut found, &mut errors).await,
                                Err(e) => errors.push(format!("{}: {e}", path.display())),
                            }
                        }
                    }
                    Err(e) => errors.push(format!("{}: {e}", path.display())),
                },
                other => self.lookup(other, &mut found, &mut errors).await,
            }
        }
        (found.into_iter().collect(), errors)
    }

    async fn lookup(&self, entry: &Entry, found: &mut BTreeSet<String>, errors: &mut Vec<String>) {
        match entry {
            Entry::Addr(a) => {
                found.insert(a.clone());
            }
            Entry::Dns { host, port } => {
                match tokio::net::lookup_host((host.as_str(), *port)).await {
                    Ok(addrs) => {
                        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
                        for a in addrs.map(|a| a.to_string()) {
                            names.insert(a.clone(), host.clone());
                            found.insert(a);
                        }
                    }
                    Err(e) => errors.push(format!("dns:{host}:{port}: {e}")),
                }
            }
            // Files list addresses and names, never other files.
            Entry::File(_) => {}
        }
    }
}

fn parse_entry(entry: &str) -> Result<Entry, String> {
    if let Some(rest) = entry.strip_prefix("dns:") {
        let (host, port) = split_host_port(rest)
            .ok_or_else(|| format!("invalid worker '{entry}': expected dns:NAME:PORT"))?;
        return Ok(Entry::Dns { host, port });
    }
    split_host_port(entry)
        .map(|_| Entry::Addr(entry.to_string()))
        .ok_or_else(|| format!("invalid worker address '{entry}': expected HOST:PORT"))
}

fn split_host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port.parse().ok()?;
    (!host.is_empty()).then(|| (host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lists_files_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("workers");
        std::fs::write(&file, "# fleet\n10.0.0.2:7070\n\n10.0.0.1:7070  # rack 1\n").unwrap();
        let d = Discovery::new(
            &[
                "10.0.0.3:7070,10.0.0.1:7070".into(),
                "dns:localhost:7071".into(),
            ],
            Some(file),
        )
        .unwrap();
        assert!(d.is_dynamic());
        let (addrs, errors) = d.resolve().await;
        assert!(errors.is_empty(), "{errors:?}");
        for a in [
            "10.0.0.1:7070",
            "10.0.0.2:7070",
            "10.0.0.3:7070",
            "127.0.0.1:7071",
        ] {
            assert!(addrs.contains(&a.to_string()), "{a} missing from {addrs:?}");
        }
        assert_eq!(addrs.iter().filter(|a| *a == "10.0.0.1:7070").count(), 1);
        // A certificate names the service, not the address DNS gave for it.
        assert_eq!(
            d.server_name("127.0.0.1:7071").as_deref(),
            Some("localhost")
        );
        assert_eq!(d.server_name("10.0.0.1:7070"), None);
    }

    #[test]
    fn bad_entries_are_named() {
        assert!(
            Discovery::new(&["nohost".into()], None)
                .unwrap_err()
                .contains("'nohost'")
        );
        assert!(
            Discovery::new(&["dns:name".into()], None)
                .unwrap_err()
                .contains("dns:NAME:PORT")
        );
        assert!(Discovery::new(&["h:99999".into()], None).is_err());
        assert!(
            !Discovery::new(&["[::1]:7070".into()], None)
                .unwrap()
                .is_dynamic()
        );
    }

    #[tokio::test]
    async fn unreadable_file_is_reported_not_fatal() {
        let d =
            Discovery::new(&["127.0.0.1:1".into()], Some("/nonexistent/workers".into())).unwrap();
        let (addrs, errors) = d.resolve().await;
        assert_eq!(addrs, vec!["127.0.0.1:1".to_string()]);
        assert_eq!(errors.len(), 1);
    }
}
