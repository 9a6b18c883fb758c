//! gzip's rules for which inputs it reads when it writes a file beside them (not to
//! stdout): a symbolic link only with -f; never a device, FIFO or socket; never a
//! setuid or setgid file (its output would carry none of what made it special, and a
//! root-run gunzip must not be a way to plant one); a hard-linked or sticky file only
//! with -f. Compress and decompress apply the same rules, with gzip's words and exit
//! statuses, so scripts written for gzip meet no surprise.

use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::Error;

/// The metadata of `path` if gzip would read it; `writes_file`: the output is a file
/// made from the input's name (these rules are gzip's for that case only, -c reads
/// anything).
pub(crate) fn admit(path: &Path, force: bool, writes_file: bool) -> Result<fs::Metadata, Error> {
    let open_error = |source| Error::Open {
        path: path.to_path_buf(),
        source,
    };
    // gzip opens with O_NOFOLLOW unless -f or -c.
    let follow = force || !writes_file;
    let meta = match follow {
        true => fs::metadata(path),
        false => fs::symlink_metadata(path),
    }
    .map_err(open_error)?;
    let name = path.display();
    if meta.file_type().is_symlink() {
        return Err(Error::Symlink(path.to_path_buf()));
    }
    if meta.is_dir() {
        return Err(Error::Refused(format!("{name} is a directory -- ignored")));
    }
    if !writes_file {
        return Ok(meta);
    }
    if !meta.is_file() {
        return Err(Error::Refused(format!(
            "{name} is not a directory or a regular file - ignored"
        )));
    }
    let mode = meta.mode();
    if mode & libc::S_ISUID != 0 {
        return Err(Error::Refused(format!(
            "{name} is set-user-ID on execution - ignored"
        )));
    }
    if mode & libc::S_ISGID != 0 {
        return Err(Error::Refused(format!(
            "{name} is set-group-ID on execution - ignored"
        )));
    }
    if !force && mode & libc::S_ISVTX != 0 {
        return Err(Error::Refused(format!(
            "{name} has the sticky bit set - file ignored (use -f to read it anyway)"
        )));
    }
    if !force && meta.nlink() > 1 {
        let others = meta.nlink() - 1;
        let s = if others == 1 { "" } else { "s" };
        return Err(Error::Refused(format!(
            "{name} has {others} other link{s} -- file ignored (use -f to read it anyway)"
        )));
    }
    Ok(meta)
}

/// Checks `path` as [`admit`] does and opens it for reading. A link that was not to
/// be followed is not followed by the open either (O_NOFOLLOW, as gzip opens): a
/// link swapped in after the check, say by another user in a folder a root-run script
/// works in, is refused too.
pub(crate) fn open(
    path: &Path,
    force: bool,
    writes_file: bool,
) -> Result<(File, fs::Metadata), Error> {
    let meta = admit(path, force, writes_file)?;
    let mut options = File::options();
    options.read(true);
    if !force && writes_file {
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let file = options
        .open(path)
        .map_err(|source| match source.raw_os_error() {
            Some(libc::ELOOP) => Error::Symlink(path.to_path_buf()),
            _ => Error::Open {
                path: path.to_path_buf(),
                source,
            },
        })?;
    Ok((file, meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn refusal(path: &Path, force: bool, writes_file: bool) -> Option<String> {
        admit(path, force, writes_file).err().map(|e| e.to_string())
    }

    #[test]
    fn gzip_rules_for_files_written_beside() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        fs::write(&plain, "x").unwrap();
        assert!(admit(&plain, false, true).is_ok());

        let link = dir.path().join("link");
        symlink(&plain, &link).unwrap();
        assert!(
            refusal(&link, false, true)
                .unwrap()
                .contains("symbolic link")
        );
        assert!(admit(&link, true, true).is_ok(), "-f follows a link");
        assert!(admit(&link, false, false).is_ok(), "-c follows a link");

        let hard = dir.path().join("hard");
        fs::hard_link(&plain, &hard).unwrap();
        assert!(
            refusal(&hard, false, true)
                .unwrap()
                .contains("has 1 other link")
        );
        assert!(admit(&hard, true, true).is_ok());

        let setuid = dir.path().join("setuid");
        fs::write(&setuid, "x").unwrap();
        fs::set_permissions(&setuid, fs::Permissions::from_mode(0o4755)).unwrap();
        assert!(
            refusal(&setuid, true, true)
                .unwrap()
                .contains("set-user-ID")
        );
        assert!(admit(&setuid, false, false).is_ok());

        assert!(
            refusal(Path::new("/dev/null"), true, true)
                .unwrap()
                .contains("not a directory or a regular file")
        );
        assert!(
            refusal(dir.path(), true, false)
                .unwrap()
                .contains("is a directory")
        );
    }
}
