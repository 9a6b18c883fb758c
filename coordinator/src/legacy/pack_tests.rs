//! Tests of `pack.rs`.
