//! RFC 1952 framing, shared by both directions: the member [`header`] we write and
//! parse, the [`trailer`] with the stream's CRC-32 joined from per-chunk CRCs, and the
//! [`decoder`] that reads whole multi-member streams back (a gzip `member` at a time,
//! or one in the formats gzip -d reads besides, from `crate::legacy`), through its
//! counting [`input`], with its [`errors`].

pub(crate) mod decoder;
pub(crate) mod errors;
pub(crate) mod header;
pub(crate) mod input;
pub(crate) mod member;
pub(crate) mod trailer;

pub(crate) use decoder::{Decoded, Options, Warning, decode, decode_with};
pub(crate) use errors::DecodeError;
pub(crate) use header::Header;
pub(crate) use trailer::{StreamCrc, trailer};
