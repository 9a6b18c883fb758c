//! One gzip member's body: its deflate data inflated through fixed buffers (a bomb
//! costs time, never memory), then its trailer checked against what the data gave. A
//! zip entry's deflate data takes the same path.

use std::io::{self, BufRead, Read, Write};

use flate2::{Decompress, FlushDecompress, Status};

use super::errors::{DecodeError, Part};
use super::input::Input;

/// Inflates one member's deflate data into `output`; returns its CRC-32 and length.
pub(crate) fn inflate_member<R: Read>(
    r: &mut Input<R>,
    member: u64,
    inflater: &mut Decompress,
    out: &mut [u8],
    output: &mut impl Write,
) -> Result<(u32, u64), DecodeError> {
    let mut crc = crc32fast::Hasher::new();
    let mut length = 0u64;
    loop {
        let input = r.fill_buf().map_err(DecodeError::Read)?;
        let at_eof = input.is_empty();
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress(input, out, FlushDecompress::None)
            .map_err(|e| DecodeError::Corrupt {
                member,
                // The last byte the inflater took; it reads a few bytes ahead of the
                // symbol it decodes, so the damage is at or just before it.
                offset: (r.consumed + (inflater.total_in() - in_before)).saturating_sub(1),
                reason: reason(&e),
            })?;
        let used = (inflater.total_in() - in_before) as usize;
        let made = (inflater.total_out() - out_before) as usize;
        r.consume(used);
        crc.update(&out[..made]);
        length += made as u64;
        output.write_all(&out[..made]).map_err(DecodeError::Write)?;
        if status == Status::StreamEnd {
            return Ok((crc.finalize(), length));
        }
        if used == 0 && made == 0 {
            return Err(if at_eof {
                DecodeError::Truncated {
                    member,
                    part: Part::Data,
                }
            } else {
                // Input in hand and room for output, yet nothing moved: zlib's
                // Z_BUF_ERROR, which a valid stream never causes here.
                DecodeError::Corrupt {
                    member,
                    offset: r.consumed,
                    reason: Some("the inflater makes no progress".into()),
                }
            });
        }
    }
}

/// zlib-rs's words for what is wrong with deflate data, unless they are about its own
/// state: an error found on its fast path (whole buffers at hand) reaches us as
/// "repeated call with bad state", its message overwritten on the way out, while the
/// same data read a byte at a time says "invalid distance too far back". (Found by
/// fuzz/read_gzip; zlib-rs 0.6.8.)
fn reason(e: &flate2::DecompressError) -> Option<String> {
    e.message()
        .filter(|m| !m.contains("bad state"))
        .map(str::to_string)
}

/// Reads a member's trailer and checks it against what its data gave.
pub(crate) fn check_trailer(
    r: &mut impl Read,
    member: u64,
    computed: u32,
    length: u64,
) -> Result<(), DecodeError> {
    let mut trailer = [0u8; 8];
    r.read_exact(&mut trailer).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => DecodeError::Truncated {
            member,
            part: Part::Trailer,
        },
        _ => DecodeError::Read(e),
    })?;
    let stored_crc = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes"));
    let stored_len = u32::from_le_bytes(trailer[4..].try_into().expect("4 bytes"));
    if stored_crc != computed {
        return Err(DecodeError::Crc {
            member,
            stored: stored_crc,
            computed,
        });
    }
    if stored_len != length as u32 {
        return Err(DecodeError::Length {
            member,
            stored: stored_len,
            actual: length,
        });
    }
    Ok(())
}
