//! `gzfleet test`: every member decoded and checked (CRC-32, length), nothing written.
//! As gzip -t: zero padding after the last member (tape blocks) passes without a word,
//! other trailing bytes pass with gzip's warning and status 2. With an index, on
//! several threads. A damaged member's error also says where its deflate blocks
//! break (`blockcheck`). With -f, data that is not compressed passes, as in gzip.

use std::io;

use super::{Tally, blockcheck, garbage_warning, indexed, inputs, open, place};
use crate::cli::TestArgs;
use crate::error::{Error, Place};
use crate::ui::Ui;

pub(crate) fn test(args: &TestArgs, ui: &Ui) -> Result<Tally, Error> {
    let files = inputs(&args.files);
    let mut tally = Tally::default();
    for path in &files {
        let input = place(path);
        let opts = indexed::Options {
            processes: args.processes,
            index_file: args.index_file.as_deref(),
            // gzip -tf passes what is not compressed, as -cdf would copy it.
            passthrough: args.force,
            ..Default::default()
        };
        let mut sink = io::sink();
        let checked = open(path, args.force, false)
            .and_then(|r| indexed::inflate(&opts, path, r, &mut sink, &Place::Stdout, ui));
        if let Ok(d) = &checked {
            super::warnings(ui, &mut tally, &input, d);
        }
        match checked {
            Ok(d) if d.trailing_garbage > 0 => {
                tally.warn(ui, garbage_warning(&input, d.trailing_garbage))
            }
            // gzip -tv says so and then exits 2; here -v says so, and the exit status
            // never depends on -v.
            Ok(d) if d.trailing_zeros > 0 => ui.info(format!(
                "{input}: OK ({} trailing zero bytes ignored)",
                d.trailing_zeros
            )),
            Ok(d) if d.indexed_spans > 0 => ui.info(format!(
                "{input}: OK ({} spans of its index in parallel, {} by libdeflate)",
                d.indexed_spans, d.whole_spans
            )),
            Ok(_) => ui.info(format!("{input}: OK")),
            Err(e) => tally.error(ui, blockcheck::explain(path, e)),
        }
    }
    Ok(tally)
}
