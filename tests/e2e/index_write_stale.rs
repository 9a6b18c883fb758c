//! An index never outlives the file it describes: `compress -f` without `--index`
//! takes the old index away as the new .gz goes in, while a run that fails leaves the
//! old pair as it was; and a run that fails at the very end (its index sealed, the
//! .gz not yet in place) keeps the partial .gz, its index and the journal together,
//! so that `--resume` finishes both. Decompressing follows the same rule: `--rm` takes
//! the index with its .gz, and a .gz decompressed over another drops the old index.

use std::path::{Path, PathBuf};

use crate::index_write::accepted;
use crate::util::*;

/// zlib-rs primes chunks with the window before them: index points carry windows.
const ARGS: [&str; 4] = ["-b", "128K", "--engine", "zlib-rs"];
const SPAN: [&str; 2] = ["--index-span", "512K"];

fn partial(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.gzfleet-partial", path.display()))
}

/// `decompress --offset` of `gz` gives `data[offset..offset + len]`.
fn assert_range(gz: &Path, data: &[u8], offset: usize, len: usize) {
    let r = run(gzfleet()
        .args(["decompress", "-c", "--offset", &offset.to_string()])
        .args(["--length", &len.to_string()])
        .arg(gz));
    assert_ok!(r);
    assert!(
        r.stdout == data[offset..offset + len],
        "--offset {offset} gives other bytes:\n{}",
        r.stderr
    );
}

#[test]
fn compress_without_index_takes_the_old_index_away_and_a_failed_run_leaves_the_pair() {
    let dir = Dir::new("index-stale");
    let old = text(1_500_000, 1201);
    let input = dir.file("data", &old);
    let (gz, gzi) = (dir.join("data.gz"), dir.join("data.gzi"));
    assert_ok!(run(gzfleet()
        .args(["compress", "--index"])
        .args(ARGS)
        .args(SPAN)
        .arg(&input)));
    assert_range(&gz, &old, 700_000, 5000);
    let pair = (std::fs::read(&gz).unwrap(), std::fs::read(&gzi).unwrap());

    // Runs that fail leave the pair untouched: an input that is missing, and one that
    // is a directory.
    let missing = run(gzfleet()
        .args(["compress", "-f", "-o"])
        .arg(&gz)
        .arg(dir.join("missing")));
    assert_fails!(missing, 1, "missing");
    std::fs::create_dir(dir.join("folder")).unwrap();
    let folder = run(gzfleet()
        .args(["compress", "-f", "-o"])
        .arg(&gz)
        .arg(dir.join("folder")));
    assert!(!folder.status.success(), "{}", folder.stderr);
    assert!(
        std::fs::read(&gz).unwrap() == pair.0,
        "a failed run changed the .gz"
    );
    assert!(
        std::fs::read(&gzi).unwrap() == pair.1,
        "a failed run changed the index"
    );

    // Other data of the same length, compressed again without --index.
    let new = mixed(old.len(), 1202);
    std::fs::write(&input, &new).unwrap();
    assert_ok!(run(gzfleet()
        .args(["compress", "-f"])
        .args(ARGS)
        .arg(&input)));
    assert!(!gzi.exists(), "the old index is left beside the new .gz");
    assert_decodes(&gz, &new);
    for (offset, len) in [
        (0, 1000),
        (524_288, 4096),
        (700_000, 5000),
        (1_400_000, 99_999),
    ] {
        assert_range(&gz, &new, offset, len);
    }

    // --index-file elsewhere: the index beside is taken away too, the named one written.
    assert_ok!(run(gzfleet()
        .args(["compress", "--index"])
        .args(ARGS)
        .args(SPAN)
        .args(["-f", "-o"])
        .arg(&gz)
        .arg(&input)));
    let elsewhere = dir.join("elsewhere.gzi");
    std::fs::write(&input, &old).unwrap();
    assert_ok!(run(gzfleet()
        .args(["compress", "-f", "--index-file"])
        .arg(&elsewhere)
        .args(ARGS)
        .args(SPAN)
        .arg(&input)));
    assert!(!gzi.exists(), "the index beside is left with --index-file");
    accepted(&gz, &elsewhere, &old, &[0, 700_000, old.len() - 1]);
}

#[test]
fn a_run_failing_at_the_very_end_keeps_its_index_for_resume() {
    let dir = Dir::new("index-seal-fails");
    let data = text(1_500_000, 1203);
    let input = dir.file("data", &data);
    let (gz, gzi) = (dir.join("data.gz"), dir.join("data.gzi"));
    // A directory where the index beside the .gz goes: found only once everything is
    // written, the index sealed, and the .gz about to go in.
    std::fs::create_dir(&gzi).unwrap();
    let args = [&["compress", "--index", "-f"][..], &ARGS, &SPAN].concat();
    let r = run(gzfleet().args(&args).arg(&input));
    assert_fails!(r, 1, "partial output kept");
    assert!(r.stderr.contains("data.gzi"), "{}", r.stderr);
    let journal = PathBuf::from(format!("{}.gzfleet-journal", gz.display()));
    for kept in [partial(&gz), partial(&gzi), journal] {
        assert!(kept.is_file(), "{} was not kept", kept.display());
    }
    assert!(!gz.exists(), "a .gz in place after a failed run");
    std::fs::remove_dir(&gzi).unwrap();
    let r = run(gzfleet().args(&args).args(["--resume", "-v"]).arg(&input));
    assert_ok!(r);
    assert!(r.stderr.contains("resuming after chunk"), "{}", r.stderr);
    accepted(&gz, &gzi, &data, &[0, 1, 524_288, 700_000, data.len() - 1]);
    let left: Vec<String> = dir
        .names()
        .into_iter()
        .filter(|n| n.contains("gzfleet-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn decompress_takes_the_index_with_its_gz_and_never_leaves_one_for_another() {
    let dir = Dir::new("index-stale-decompress");
    let data = text(1_500_000, 1203);
    let input = dir.file("data", &data);
    let (gz, gzi) = (dir.join("data.gz"), dir.join("data.gzi"));
    let compress = |extra: &[&str]| {
        assert_ok!(run(gzfleet()
            .args(["compress", "-f", "--index"])
            .args(ARGS)
            .args(SPAN)
            .args(extra)
            .arg(&input)));
    };
    compress(&[]);
    // The .gz is kept (gzfleet's default), so its index stays with it, untouched.
    let index = std::fs::read(&gzi).unwrap();
    std::fs::remove_file(&input).unwrap();
    assert_ok!(run(gzfleet().arg("decompress").arg(&gz)));
    assert!(std::fs::read(&gzi).unwrap() == index, "the index changed");
    // With --rm the .gz goes, as gzip's does, and its index with it.
    std::fs::remove_file(&input).unwrap();
    assert_ok!(run(gzfleet().args(["decompress", "--rm"]).arg(&gz)));
    assert!(std::fs::read(&input).unwrap() == data);
    assert!(!gz.exists() && !gzi.exists(), "the index outlived its .gz");

    // data.gz.gz (a .gz of other data, compressed again) decompressed over data.gz:
    // the old data.gzi must not stay beside the .gz it does not describe.
    compress(&[]);
    let other = mixed(data.len(), 1204);
    let other_gz = dir.join("other.gz");
    assert_ok!(run(gzfleet()
        .args(["compress", "-o"])
        .arg(&other_gz)
        .arg(dir.file("other", &other))));
    let outer = dir.join("data.gz.gz");
    assert_ok!(run(gzfleet()
        .args(["compress", "-f", "-o"])
        .arg(&outer)
        .arg(&other_gz)));
    assert_ok!(run(gzfleet().args(["decompress", "-f"]).arg(&outer)));
    assert!(
        !gzi.exists(),
        "an index of other bytes is left beside data.gz"
    );
    assert_decodes(&gz, &other);

    // A folder where an index would be is no index: compressing still succeeds.
    std::fs::create_dir(&gzi).unwrap();
    assert_ok!(run(gzfleet()
        .args(["compress", "-f"])
        .args(ARGS)
        .arg(&input)));
    assert!(gzi.is_dir());
    assert_decodes(&gz, &data);
}
