//! Names as gzip -d makes them: which suffixes mark a compressed file (FILE.gz ->
//! FILE, FILE.tgz -> FILE.tar, -S's own first; compared without regard to case, so
//! FILE.Z is one), and which file `gzip -d FILE` means when FILE does not exist
//! (FILE.gz, or FILE with another suffix gzip tries).

use std::path::{Path, PathBuf};

/// The suffixes gzip recognises, after -S's (gzip's `get_suffix`).
const KNOWN: [&str; 7] = [".gz", ".z", ".taz", ".tgz", "-gz", "-z", "_z"];
/// The suffixes `gzip -d FILE` tries when FILE does not exist, after -S's (gzip's
/// `open_input_file`).
const TRIED: [&str; 4] = [".gz", ".z", "-z", ".Z"];

/// The suffix of compressed files: -S's, else .gz.
fn own(custom: Option<&str>) -> &str {
    custom.unwrap_or(".gz")
}

/// The name decompressing `path` writes: without its suffix (-S's tried first), .tgz
/// and .taz becoming .tar; None when it has no compressed suffix.
pub(crate) fn strip_suffix_or(path: &Path, custom: Option<&str>) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let own = own(custom);
    // gzip checks the long suffixes first when -S is just "z".
    let order = match own {
        "z" => KNOWN.iter().copied().chain([own]).collect::<Vec<_>>(),
        _ => [own].into_iter().chain(KNOWN).collect(),
    };
    // gzip lowercases the name's end before comparing.
    let suffix = order.into_iter().find(|s| {
        name.len() > s.len()
            && name.is_char_boundary(name.len() - s.len())
            && name.as_bytes()[name.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes())
    })?;
    let (stem, tail) = name.split_at(name.len() - suffix.len());
    let stem = match [".tgz", ".taz"]
        .iter()
        .any(|t| tail.eq_ignore_ascii_case(t))
    {
        true => format!("{stem}.tar"),
        false => stem.to_string(),
    };
    (!stem.is_empty()).then(|| path.with_file_name(stem))
}

/// FILE.gz -> FILE, as [`strip_suffix_or`] with no -S.
pub(crate) fn strip_suffix(path: &Path) -> Option<PathBuf> {
    strip_suffix_or(path, None)
}

/// The file `gzip -d NAME` reads: NAME itself when it exists or has a compressed
/// suffix; else the first of NAME + each suffix gzip tries that exists. Err names
/// the file gzip would say is missing (NAME + -S's suffix).
pub(crate) fn find_input(name: &Path, custom: Option<&str>) -> Result<PathBuf, PathBuf> {
    if name == Path::new("-")
        || std::fs::symlink_metadata(name).is_ok()
        || strip_suffix_or(name, custom).is_some()
    {
        return Ok(name.to_path_buf());
    }
    let own = own(custom);
    let with = |s: &str| crate::partial::with_suffix(name, s);
    [own]
        .into_iter()
        .chain(TRIED.into_iter().filter(|s| *s != own))
        .map(with)
        .find(|p| std::fs::symlink_metadata(p).is_ok())
        .ok_or_else(|| with(own))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_as_gzip_knows_them() {
        let strip = |p: &str| strip_suffix(Path::new(p));
        assert_eq!(strip("a/b.txt.gz"), Some(PathBuf::from("a/b.txt")));
        assert_eq!(strip("x.tgz"), Some(PathBuf::from("x.tar")));
        assert_eq!(strip("x.taz"), Some(PathBuf::from("x.tar")));
        assert_eq!(strip("x.TGZ"), Some(PathBuf::from("x.tar")));
        assert_eq!(strip("x.z"), Some(PathBuf::from("x")));
        assert_eq!(strip("x.Z"), Some(PathBuf::from("x")));
        assert_eq!(strip("x.GZ"), Some(PathBuf::from("x")));
        assert_eq!(strip("x-gz"), Some(PathBuf::from("x")));
        assert_eq!(strip("x_z"), Some(PathBuf::from("x")));
        assert_eq!(strip("x.txt"), None);
        assert_eq!(strip(".gz"), None);
        assert_eq!(strip("é.gz"), Some(PathBuf::from("é")));
        let custom = |p: &str, s: &str| strip_suffix_or(Path::new(p), Some(s));
        assert_eq!(custom("x.txt.zz", ".zz"), Some(PathBuf::from("x.txt")));
        // A suffix need not start with a dot.
        assert_eq!(custom("Fz", "z"), Some(PathBuf::from("F")));
        assert_eq!(custom("F.gz", "z"), Some(PathBuf::from("F")));
        assert_eq!(custom("z", "z"), None);
    }

    #[test]
    fn a_missing_name_is_found_with_a_suffix() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("F");
        assert_eq!(find_input(&f, None), Err(dir.path().join("F.gz")));
        assert_eq!(find_input(&f, Some("z")), Err(dir.path().join("Fz")));
        std::fs::write(dir.path().join("F.Z"), b"").unwrap();
        assert_eq!(find_input(&f, None), Ok(dir.path().join("F.Z")));
        std::fs::write(dir.path().join("Fz"), b"").unwrap();
        assert_eq!(find_input(&f, Some("z")), Ok(dir.path().join("Fz")));
        std::fs::write(dir.path().join("F.gz"), b"").unwrap();
        assert_eq!(find_input(&f, None), Ok(dir.path().join("F.gz")));
        // A name that exists, or that has a suffix, is taken as it is.
        std::fs::write(&f, b"").unwrap();
        assert_eq!(find_input(&f, None), Ok(f.clone()));
        let gone = dir.path().join("G.gz");
        assert_eq!(find_input(&gone, None), Ok(gone.clone()));
    }
}
