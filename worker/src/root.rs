//! Which files a worker reads for pull mode: only regular files strictly inside its
//! `--root`. A path from a request is refused if it is absolute or climbs with `..`;
//! the file is opened, and only then is it checked: what the path resolves to
//! (symbolic links included) must lie inside the root and be the very file opened, so
//! a link swapped between the check and the open cannot lead out. Opening never
//! blocks (a FIFO or a device is refused, not waited on). A request can name nothing
//! else on the machine.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
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
    #[error("{0}: not a regular file; pull mode reads regular files")]
    NotAFile(String),
    #[error("{0}: moved or replaced while this worker opened it; run again once it is stable")]
    Moved(String),
    #[error("{path}: not readable under this worker's --root: {source}")]
    Unreadable {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl RootError {
    /// Whether the request's input is the problem, rather than this worker: a worker
    /// out of file descriptors, or an I/O error on its mount, should not fail an input
    /// another worker can read.
    pub fn about_input(&self) -> bool {
        match self {
            RootError::Unreadable { source, .. } => about_the_file(source),
            _ => true,
        }
    }
}

/// I/O errors that say something about the file asked for, not the machine asking.
pub(crate) fn about_the_file(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        NotFound | PermissionDenied | NotADirectory | IsADirectory | InvalidInput | UnexpectedEof
    ) || e.raw_os_error() == Some(libc::ELOOP)
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

    /// Opens the regular file `requested` names inside the root.
    pub fn open(&self, requested: &str) -> Result<File, RootError> {
        self.open_with(requested, OpenOptions::new().read(true))
    }

    /// Opens for writing the existing regular file `requested` names inside the root
    /// (`--write-root`: a direct output's partial file, which the coordinator
    /// created). Nothing is created, truncated or followed out of the root.
    pub fn open_for_writing(&self, requested: &str) -> Result<File, RootError> {
        self.open_with(requested, OpenOptions::new().write(true))
    }

    fn open_with(&self, requested: &str, options: &mut OpenOptions) -> Result<File, RootError> {
        let path = Path::new(requested);
        if path.is_absolute() {
            return Err(RootError::Absolute(requested.into()));
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(RootError::Climbs(requested.into()));
        }
        let unreadable = |source| RootError::Unreadable {
            path: requested.into(),
            source,
        };
        let joined = self.dir.join(path);
        let file = options
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&joined)
            .map_err(unreadable)?;
        let opened = file.metadata().map_err(unreadable)?;
        let resolved = joined.canonicalize().map_err(unreadable)?;
        if !resolved.starts_with(&self.dir) {
            return Err(RootError::Escapes(requested.into()));
        }
        // The path resolves inside the root now; the file opened must be that one.
        let named = std::fs::metadata(&resolved).map_err(unreadable)?;
        if (named.dev(), named.ino()) != (opened.dev(), opened.ino()) {
            return Err(RootError::Moved(requested.into()));
        }
        if !opened.is_file() {
            return Err(RootError::NotAFile(requested.into()));
        }
        Ok(file)
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

    fn inode(file: &File) -> u64 {
        file.metadata().unwrap().ino()
    }

    #[test]
    fn files_inside_the_root_open() {
        let (_dir, root) = root_with_files();
        let data = std::fs::metadata(root.dir().join("sub/data"))
            .unwrap()
            .ino();
        assert_eq!(inode(&root.open("sub/data").unwrap()), data);
        assert_eq!(inode(&root.open("./sub/data").unwrap()), data);
        // A link that stays inside is followed.
        assert_eq!(inode(&root.open("in").unwrap()), data);
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_without_blocking() {
        let (_dir, root) = root_with_files();
        let fifo = root.dir().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Without O_NONBLOCK this open would wait for a writer forever.
        let e = root.open("fifo").unwrap_err();
        assert!(matches!(&e, RootError::NotAFile(p) if p == "fifo"), "{e}");
        assert!(matches!(root.open("sub"), Err(RootError::NotAFile(_))));
        assert!(e.about_input());
    }

    #[test]
    fn escapes_are_refused_naming_the_path() {
        let (_dir, root) = root_with_files();
        let abs = root.dir().join("sub/data").display().to_string();
        assert!(matches!(root.open(&abs), Err(RootError::Absolute(p)) if p == abs));
        let climb = root.open("sub/../../secret").unwrap_err();
        assert!(matches!(&climb, RootError::Climbs(p) if p == "sub/../../secret"));
        let link = root.open("out").unwrap_err();
        assert!(
            matches!(&link, RootError::Escapes(p) if p == "out"),
            "{link}"
        );
        assert!(link.to_string().contains("out: a symbolic link leads out"));
        let missing = root.open("missing").unwrap_err();
        assert!(matches!(
            &missing,
            RootError::Unreadable { source, .. } if source.kind() == io::ErrorKind::NotFound
        ));
        assert!(missing.about_input());
    }

    #[test]
    fn writing_opens_only_existing_files_inside_the_root() {
        let (_dir, root) = root_with_files();
        use std::io::Write;
        root.open_for_writing("sub/data")
            .unwrap()
            .write_all(b"y")
            .unwrap();
        assert_eq!(std::fs::read(root.dir().join("sub/data")).unwrap(), b"y");
        let link = root.open_for_writing("out").unwrap_err();
        assert!(matches!(&link, RootError::Escapes(_)), "{link}");
        assert!(matches!(
            root.open_for_writing("../secret"),
            Err(RootError::Climbs(_))
        ));
        // Nothing is created: the coordinator made the partial file.
        assert!(root.open_for_writing("new").is_err());
        assert!(!root.dir().join("new").exists());
    }

    #[test]
    fn only_errors_about_the_file_are_blamed_on_the_input() {
        let worker_trouble = [libc::EMFILE, libc::EIO, libc::ESTALE, libc::ENOMEM];
        for errno in worker_trouble {
            let e = RootError::Unreadable {
                path: "f".into(),
                source: io::Error::from_raw_os_error(errno),
            };
            assert!(!e.about_input(), "{e}");
        }
        let e = RootError::Unreadable {
            path: "f".into(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        assert!(e.about_input());
    }
}
