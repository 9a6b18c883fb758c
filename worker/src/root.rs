//! Which files a worker reads for pull mode: only files strictly inside its `--root`.
//! A path from a request is refused if it is absolute or climbs with `..`; and once
//! the file system resolved it (symbolic links included), the result must still lie
//! inside the root. A request can name nothing else on the machine.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a requested path is not served.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    #[error("{0}: an absolute path; pull requests name files relative to the worker's --root")]
    Absolute(String),
    #[error("{0}: climbs out with \"..\"; pull requests name files inside the worker's --root")]
    Climbs(String),
    #[error("{0}: a symbolic link leads out of this worker's --root")]
    Escapes(String),
    #[error("{path}: not readable under this worker's --root: {source}")]
    Unreadable {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// A worker's `--root`, resolved once.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    /// `dir` must be a directory; it is resolved (symbolic links and all) now, so a
    /// later change of what a link in its path points to cannot move it.
    pub fn new(dir: &Path) -> io::Result<Root> {
        let dir = dir.canonicalize()?;
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            ));
        }
        Ok(Root { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file `requested` names inside the root, resolved.
    pub fn resolve(&self, requested: &str) -> Result<PathBuf, RootError> {
        let path = Path::new(requested);
        if path.is_absolute() {
            return Err(RootError::Absolute(requested.into()));
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(RootError::Climbs(requested.into()));
        }
        let resolved =
            self.dir
                .join(path)
                .canonicalize()
                .map_err(|source| RootError::Unreadable {
                    path: requested.into(),
                    source,
                })?;
        if !resolved.starts_with(&self.dir) {
            return Err(RootError::Escapes(requested.into()));
        }
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root_with_files() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/data"), b"x").unwrap();
        std::fs::write(dir.path().join("secret"), b"s").unwrap();
        symlink(dir.path().join("secret"), root.join("out")).unwrap();
        symlink("sub/data", root.join("in")).unwrap();
        let r = Root::new(&root).unwrap();
        (dir, r)
    }

    #[test]
    fn paths_inside_the_root_resolve() {
        let (_dir, root) = root_with_files();
        assert_eq!(
            root.resolve("sub/data").unwrap(),
            root.dir().join("sub/data")
        );
        assert_eq!(
            root.resolve("./sub/data").unwrap(),
            root.dir().join("sub/data")
        );
        // A link that stays inside is followed.
        assert_eq!(root.resolve("in").unwrap(), root.dir().join("sub/data"));
    }

    #[test]
    fn escapes_are_refused_naming_the_path() {
        let (_dir, root) = root_with_files();
        let abs = root.dir().join("sub/data").display().to_string();
        assert!(matches!(root.resolve(&abs), Err(RootError::Absolute(p)) if p == abs));
        let climb = root.resolve("sub/../../secret").unwrap_err();
        assert!(matches!(&climb, RootError::Climbs(p) if p == "sub/../../secret"));
        let link = root.resolve("out").unwrap_err();
        assert!(
            matches!(&link, RootError::Escapes(p) if p == "out"),
            "{link}"
        );
        assert!(link.to_string().contains("out: a symbolic link leads out"));
        assert!(matches!(
            root.resolve("missing"),
            Err(RootError::Unreadable { source, .. }) if source.kind() == io::ErrorKind::NotFound
        ));
    }
}
