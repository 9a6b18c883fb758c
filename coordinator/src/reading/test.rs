//! `gzfleet test`: every member decoded and checked (CRC-32, length), nothing written.
//! As gzip -t: zero padding after the last member (tape blocks) passes without a word,
//! other trailing bytes pass with gzip's warning and status 2. A damaged member's
//! error also says where its deflate blocks break (`blockcheck`).

use super::{Tally, blockcheck, check, garbage_warning, inputs, open, place};
use crate::cli::TestArgs;
use crate::error::Error;
use crate::ui::Ui;

pub(crate) fn test(args: &TestArgs, ui: &Ui) -> Result<Tally, Error> {
    let files = inputs(&args.files);
    let mut tally = Tally::default();
    for path in &files {
        let input = place(path);
        match open(path, args.force, false).and_then(|r| check(r, input.clone())) {
            Ok(d) if d.trailing_garbage > 0 => {
                tally.warn(ui, garbage_warning(&input, d.trailing_garbage))
            }
            // gzip -tv says so and then exits 2; here -v says so, and the exit status
            // never depends on -v.
            Ok(d) if d.trailing_zeros > 0 => ui.info(format!(
                "{input}: OK ({} trailing zero bytes ignored)",
                d.trailing_zeros
            )),
            Ok(_) => ui.info(format!("{input}: OK")),
            Err(e) => tally.error(ui, blockcheck::explain(path, e)),
        }
    }
    Ok(tally)
}
