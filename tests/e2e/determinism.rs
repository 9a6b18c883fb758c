//! Output bytes depend on the input and the options only: never on the thread count.

use crate::util::*;

#[test]
fn thread_count_never_changes_the_bytes() {
    let dir = Dir::new("threads");
    let data = mixed(3 << 20, 11);
    let input = dir.file("data", &data);
    for mode in [
        &["-b", "128K"][..],
        &["-b", "128K", "--engine", "zlib-rs"][..],
        &["-b", "128K", "-i", "--engine", "zlib-rs"][..],
        &["-b", "1M", "-9"][..],
    ] {
        let reference = compress_file(&dir, &input, &[mode, &["-p", "1"]].concat());
        for p in ["2", "8"] {
            let other = compress_file(&dir, &input, &[mode, &["-p", p]].concat());
            assert!(other == reference, "-p {p} {mode:?} differs from -p 1");
        }
        assert_decodes(&dir.file("ref.gz", &reference), &data);
    }
}

#[test]
fn block_size_is_part_of_the_identity() {
    // Documented: -b changes the bytes (chunk boundaries are flush points), and each
    // setting still decodes to the input.
    let dir = Dir::new("blocks");
    let data = text(2 << 20, 5);
    let input = dir.file("data", &data);
    let a = compress_file(&dir, &input, &["-b", "128K"]);
    let b = compress_file(&dir, &input, &["-b", "512K"]);
    assert_ne!(a, b);
    assert_decodes(&dir.file("a.gz", &a), &data);
    assert_decodes(&dir.file("b.gz", &b), &data);
}
