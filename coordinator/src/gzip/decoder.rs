//! Reads compressed streams completely and trusts nothing in them. A stream is members
//! one after another, each told by its first bytes: gzip's (header parsed with its
//! optional fields skipped, deflate data inflated through fixed buffers, CRC-32 and
//! ISIZE checked: `member`), or one of the formats gzip -d reads besides (`legacy`):
//! compress's .Z, pack's .z, and a zip file's first entry. After the last member, zero
//! padding is accepted silently as gzip accepts it, and any other bytes are reported as
//! trailing garbage rather than dropped; with [`Options::passthrough`] (gzip's
//! `-cdf`, `zcat -f`) they, and a whole input that is not compressed, are copied
//! unchanged, as cat would. Errors say what is wrong and where, in the words gzip
//! users know (`errors`).

use std::io::{Read, Write};

use flate2::Decompress;

use super::errors::DecodeError;
use super::header::{MAGIC, read_header};
use super::input::{BUFFER, Input, count_rest};
use super::member::{check_trailer, inflate_member};
use super::trailer::StreamCrc;
use crate::legacy::{self, Out, zip};

/// What a whole stream held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub members: u64,
    /// Bytes of compressed data read (without the trailing bytes).
    pub compressed: u64,
    pub uncompressed: u64,
    /// CRC-32 of all the uncompressed data, every member's joined.
    pub crc: u32,
    /// The first member's modification time (0: none stored).
    pub mtime: u32,
    /// The first member's header length in bytes (gzip's -l ratio leaves it out).
    pub first_header: u64,
    /// What the first member is.
    pub format: Format,
    /// Members in another format than gzip's.
    pub foreign: u64,
    /// Bytes copied unchanged because they are not compressed (`passthrough`), also
    /// counted in `compressed` and `uncompressed`.
    pub passed: u64,
    /// What was decoded but deserves a word (exit status 2).
    pub warnings: Vec<Warning>,
    /// Zero bytes after the last member and nothing else: padding (tape blocks, some
    /// tools' output), which gzip ignores without a word.
    pub trailing_zeros: u64,
    /// Bytes after the last member that are neither gzip nor only zeros.
    pub trailing_garbage: u64,
    /// Spans inflated in parallel with an index (0: decoded from the start, alone).
    pub indexed_spans: u64,
    /// Of those, spans inflated whole by libdeflate (the rest streamed by zlib-rs).
    pub whole_spans: u64,
}

/// The kinds of member a stream can hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Format {
    #[default]
    Gzip,
    /// compress's LZW (.Z): the rest of the input.
    Compress,
    /// pack's Huffman code (.z).
    Pack,
    /// A zip file's first entry: the rest of the file is not read.
    Zip { stored: bool },
    /// Not compressed, copied unchanged (`passthrough`).
    Plain,
}

impl Format {
    /// gzip -lv's method column (five letters, as gzip cuts them).
    pub fn method(self) -> &'static str {
        match self {
            Format::Gzip | Format::Zip { stored: false } => "defla",
            Format::Compress => "compr",
            Format::Pack => "pack ",
            Format::Zip { stored: true } | Format::Plain => "store",
        }
    }
}

/// A stream decoded whole that gzip would still warn about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Warning {
    /// A .Z header with reserved flag bits set (gzip: "unknown flags").
    LzwFlags(u8),
    /// A zip file with more entries after the first: only the first is read. Written
    /// to a file, gzip refuses it instead (the input would be removed).
    ZipMoreEntries,
}

/// How to read what is not compressed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// Copy it unchanged instead of refusing it or calling it trailing garbage.
    pub passthrough: bool,
}

/// What the next bytes of a stream are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Member(Format),
    /// The end of the input, after at least one member (or an empty input passed
    /// through).
    End,
    /// Bytes after the last member that start no member.
    Trailing,
}

/// Decodes every member of `input` into `output`.
pub(crate) fn decode(input: impl Read, output: &mut impl Write) -> Result<Decoded, DecodeError> {
    decode_with(input, output, Options::default())
}

/// As [`decode`], reading what is not compressed as `opts` says.
pub(crate) fn decode_with(
    input: impl Read,
    output: &mut impl Write,
    opts: Options,
) -> Result<Decoded, DecodeError> {
    let mut r = Input::new(input);
    let mut d = Decoded::default();
    let mut stream = StreamCrc::default();
    let mut reader = Members {
        inflater: Decompress::new(false),
        buffer: vec![0u8; BUFFER],
    };
    loop {
        let start = r.consumed;
        // Four bytes tell every member apart (a zip file's "PK\3\4"), even when the
        // buffer happens to end between them.
        let peek = r.peek(4).map_err(DecodeError::Read)?;
        let format = match next(peek, d.members, opts)? {
            Next::End => break,
            Next::Trailing => {
                let (len, zeros) = count_rest(&mut r)?;
                match zeros {
                    true => d.trailing_zeros = len,
                    false => d.trailing_garbage = len,
                }
                break;
            }
            Next::Member(format) => format,
        };
        let member = d.members + 1;
        let (crc, length, format) = reader.read(&mut r, member, format, output, &mut d)?;
        if member == 1 {
            d.format = format;
        }
        d.foreign += u64::from(format != Format::Gzip);
        stream.append(crc, length);
        d.members = member;
        d.compressed += r.consumed - start;
    }
    d.uncompressed = stream.len;
    d.crc = stream.crc;
    Ok(d)
}

/// Decides what the next bytes are, from up to four of them, after `members` members.
fn next(peek: &[u8], members: u64, opts: Options) -> Result<Next, DecodeError> {
    let starts = |magic: &[u8]| peek.starts_with(magic);
    Ok(match peek {
        [] if members == 0 && !opts.passthrough => return Err(DecodeError::Empty),
        [] => Next::End,
        _ if starts(&MAGIC) => Next::Member(Format::Gzip),
        // A gzip header cut after its first byte, which its parser names.
        [0x1f] if members == 0 && !opts.passthrough => Next::Member(Format::Gzip),
        // As gzip: a zip file only alone, its entry first.
        _ if members == 0 && starts(&zip::MAGIC) => Next::Member(Format::Zip { stored: false }),
        _ if starts(&legacy::pack::MAGIC) => Next::Member(Format::Pack),
        _ if starts(&legacy::lzw::MAGIC) => Next::Member(Format::Compress),
        _ if opts.passthrough => Next::Member(Format::Plain),
        _ if members == 0 => return Err(DecodeError::NotGzip),
        // gzip reads two bytes for the next magic and stops at the end of the file if
        // only one is there: that is an error, the start of a member cut short, unless
        // the byte is zero padding. Its verdict, and so ours.
        [byte] if *byte != 0 => {
            return Err(DecodeError::LoneByte {
                member: members,
                byte: *byte,
            });
        }
        // (gzip would also try LZH's 1f a0; we do not read it, so it is garbage here.)
        _ => Next::Trailing,
    })
}

/// What reading members needs from one to the next.
struct Members {
    inflater: Decompress,
    buffer: Vec<u8>,
}

impl Members {
    /// Reads member `member`, in `format`, into `output`: its CRC-32 and length, and
    /// its format as read (a zip entry's method is known only then).
    fn read<R: Read>(
        &mut self,
        r: &mut Input<R>,
        member: u64,
        format: Format,
        output: &mut impl Write,
        d: &mut Decoded,
    ) -> Result<(u32, u64, Format), DecodeError> {
        let (crc, length) = match format {
            Format::Gzip => self.gzip(r, member, output, d)?,
            Format::Zip { .. } => {
                let entry = zip::decode(r, &mut self.inflater, &mut self.buffer, output)?;
                if entry.more {
                    d.warnings.push(Warning::ZipMoreEntries);
                }
                return Ok((
                    entry.crc,
                    entry.len,
                    Format::Zip {
                        stored: entry.stored,
                    },
                ));
            }
            Format::Compress | Format::Pack | Format::Plain => {
                let mut out = Out::new(output);
                let read = match format {
                    Format::Compress => legacy::lzw::decode(r, member, &mut out)
                        .map(|flags| d.warnings.extend(flags.map(Warning::LzwFlags))),
                    Format::Pack => legacy::pack::decode(r, member, &mut out),
                    _ => legacy::copy(r, &mut out).map(|n| d.passed = n),
                };
                // As gzip, what was decoded before the damage is written.
                if read.is_err() {
                    let _ = out.flush();
                }
                read?;
                out.finish()?
            }
        };
        Ok((crc, length, format))
    }

    fn gzip<R: Read>(
        &mut self,
        r: &mut Input<R>,
        member: u64,
        output: &mut impl Write,
        d: &mut Decoded,
    ) -> Result<(u32, u64), DecodeError> {
        let header = read_header(r).map_err(|e| DecodeError::in_header(e, member))?;
        if member == 1 {
            d.mtime = header.mtime;
            d.first_header = header.len;
        }
        self.inflater.reset(false);
        let (crc, length) =
            inflate_member(r, member, &mut self.inflater, &mut self.buffer, output)?;
        check_trailer(r, member, crc, length)?;
        Ok((crc, length))
    }
}

#[cfg(test)]
#[path = "decoder_tests.rs"]
mod tests;
