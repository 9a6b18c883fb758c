//! Compiles proto/gzfleet.proto with protox (a protobuf compiler in Rust), so a fresh
//! clone builds with cargo alone: no protoc on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=gzfleet.proto");
    let descriptors = protox::compile(["gzfleet.proto"], ["."])?;
    tonic_prost_build::configure()
        // Chunks are megabytes: decode them as `Bytes` views of the receive buffer
        // rather than copying into fresh `Vec`s.
        .bytes(".gzfleet.v1")
        .build_transport(false)
        .compile_fds(descriptors)?;
    Ok(())
}
