//! RFC 1952 framing, shared by both directions: the member [`header`] we write and
//! parse, the [`trailer`] with the stream's CRC-32 joined from per-chunk CRCs, and the
//! [`decoder`] that reads whole multi-member streams back.

pub(crate) mod decoder;
pub(crate) mod header;
pub(crate) mod trailer;

pub(crate) use decoder::{DecodeError, Decoded, decode};
pub(crate) use header::Header;
pub(crate) use trailer::{StreamCrc, trailer};
