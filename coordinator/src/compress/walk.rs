//! The inputs of a run: the names given, and with -r every file below each directory
//! named, in a stable order (each folder's entries sorted by name), so a batch's order
//! and outputs never depend on how a file system happens to list a folder.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// One input of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    /// What to open ("-" for stdin).
    pub path: PathBuf,
    /// Where its output goes below --output-dir: its path below the directory named
    /// (with -r), or its file name.
    pub below: PathBuf,
}

/// Expands `names`: with `recursive`, a directory becomes the files below it. Returns
/// the inputs, and the folders that could not be read (the others go on).
pub(crate) fn expand(names: &[PathBuf], recursive: bool) -> (Vec<Named>, Vec<Error>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        if recursive && name.is_dir() {
            walk(name, Path::new(""), &mut inputs, &mut errors);
        } else {
            let below = name.file_name().map(PathBuf::from).unwrap_or_default();
            inputs.push(Named {
                path: name.clone(),
                below,
            });
        }
    }
    (inputs, errors)
}

/// Adds the files below `dir` (whose path below the directory named is `below`).
/// Symbolic links are listed as files, not followed into: opening one names a dangling
/// link or a linked directory as such, and a link cannot make the walk loop.
fn walk(dir: &Path, below: &Path, inputs: &mut Vec<Named>, errors: &mut Vec<Error>) {
    let listed = fs::read_dir(dir).and_then(|entries| {
        let mut entries = entries.collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        Ok(entries)
    });
    let entries = match listed {
        Ok(entries) => entries,
        Err(source) => {
            errors.push(Error::Open {
                path: dir.to_path_buf(),
                source,
            });
            return;
        }
    };
    for entry in entries {
        let path = entry.path();
        let below = below.join(entry.file_name());
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, &below, inputs, errors),
            _ => inputs.push(Named { path, below }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn directories_expand_in_a_stable_order_and_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        fs::create_dir_all(root.join("b/deep")).unwrap();
        fs::create_dir_all(root.join("a")).unwrap();
        for f in ["z", "a/2", "a/1", "b/deep/x"] {
            fs::write(root.join(f), f).unwrap();
        }
        symlink("/nonexistent", root.join("dangling")).unwrap();
        let lone = dir.path().join("lone");
        fs::write(&lone, "l").unwrap();
        let (inputs, errors) = expand(&[root.clone(), lone.clone()], true);
        assert!(errors.is_empty());
        let below: Vec<&Path> = inputs.iter().map(|n| n.below.as_path()).collect();
        let expected = ["a/1", "a/2", "b/deep/x", "dangling", "z", "lone"];
        assert_eq!(below, expected.map(Path::new));
        assert_eq!(inputs[2].path, root.join("b/deep/x"));
        assert_eq!(inputs[5].path, lone);
    }

    #[test]
    fn without_recursion_a_directory_stays_a_name() {
        let dir = tempfile::tempdir().unwrap();
        let (inputs, _) = expand(&[dir.path().to_path_buf()], false);
        assert_eq!(inputs.len(), 1);
        assert_eq!(inputs[0].path, dir.path());
    }
}
