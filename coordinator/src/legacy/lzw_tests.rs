//! Tests of `lzw.rs`.
