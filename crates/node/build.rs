//! Generates the node's gRPC services; the VUM messages come from the vum-proto crate.
use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!(
        "cargo:rerun-if-changed={}",
        root.join("matchgate/v1/node.proto").display()
    );
    env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    let out = PathBuf::from(env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("node_descriptor.bin"))
        .extern_path(".vum.v3.werkzoekenden", "::vum_proto::werkzoekenden")
        .extern_path(".vum.v3.vacatures", "::vum_proto::vacatures")
        .compile_protos(&[root.join("matchgate/v1/node.proto")], &[root])?;
    Ok(())
}
