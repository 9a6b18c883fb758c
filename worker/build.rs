//! Builds libdeflate's compressor from `libdeflate/` (version 1.26, vendored with one
//! patch: see `libdeflate/PATCH.md`). Its exported symbols are renamed with a
//! `gzfleet_ld_` prefix so that it can share a binary with the stock libdeflate (the
//! tests compare the two, and a decompressor may link it).

fn main() {
    println!("cargo:rerun-if-changed=libdeflate");
    let mut build = cc::Build::new();
    build
        .files([
            "libdeflate/lib/deflate_compress.c",
            "libdeflate/lib/utils.c",
        ])
        .include("libdeflate")
        .warnings(false);
    for symbol in [
        "libdeflate_alloc_compressor",
        "libdeflate_alloc_compressor_ex",
        "libdeflate_deflate_compress",
        "libdeflate_deflate_compress_bound",
        "libdeflate_free_compressor",
        "libdeflate_get_compression_level",
        "libdeflate_aligned_free",
        "libdeflate_aligned_malloc",
        "libdeflate_default_free_func",
        "libdeflate_default_malloc_func",
        "libdeflate_set_memory_allocator",
    ] {
        let renamed = symbol.replacen("libdeflate_", "gzfleet_ld_", 1);
        build.define(symbol, Some(renamed.as_str()));
    }
    build.compile("gzfleet_libdeflate");
}
