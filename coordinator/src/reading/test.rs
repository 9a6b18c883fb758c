//! `gzfleet test`: every member decoded and checked (CRC-32, length), nothing written.

use std::io;

use super::{Tally, open, place};
use crate::cli::TestArgs;
use crate::error::Error;
use crate::gzip::decode;
use crate::ui::Ui;

pub(crate) fn test(args: &TestArgs, ui: &Ui) -> Result<Tally, Error> {
    let mut tally = Tally::default();
    for path in &args.files {
        let input = place(path);
        let result = open(path).and_then(|r| {
            decode(r, &mut io::sink()).map_err(|source| Error::Corrupt {
                input: input.clone(),
                source,
            })
        });
        match result {
            Ok(d) if d.trailing_garbage > 0 => tally.warn(
                ui,
                format!(
                    "{input}: data OK, but {} bytes of trailing garbage follow it",
                    d.trailing_garbage
                ),
            ),
            Ok(_) => ui.info(format!("{input}: OK")),
            Err(e) => tally.error(ui, e),
        }
    }
    Ok(tally)
}
