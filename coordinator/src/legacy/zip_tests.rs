//! Tests of `zip.rs`.
