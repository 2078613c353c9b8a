//! Generates the node's gRPC services; the VUM messages come from the vum-proto crate.
//!
//! Two compilations of `node.proto`: the ordinary one (messages, clients, servers) and a
//! server-only one in `raw/` whose `FeedEvent` is `crate::feed::RawFeedEvent`, a message with the
//! same wire form that carries the vacature as the already-encoded bytes from the store, so the
//! feed sends stored protobuf without decoding and re-encoding every vacancy.
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
        .compile_protos(
            &[root.join("matchgate/v1/node.proto")],
            std::slice::from_ref(&root),
        )?;
    let raw = out.join("raw");
    std::fs::create_dir_all(&raw)?;
    tonic_prost_build::configure()
        .build_client(false)
        .out_dir(&raw)
        .extern_path(".vum.v3.werkzoekenden", "::vum_proto::werkzoekenden")
        .extern_path(".vum.v3.vacatures", "::vum_proto::vacatures")
        .extern_path(".matchgate.v1.FeedEvent", "crate::feed::RawFeedEvent")
        .extern_path(".matchgate.v1", "crate::pb")
        .compile_protos(&[root.join("matchgate/v1/node.proto")], &[root])?;
    Ok(())
}
