//! Compiles `proto/` with prost and generates the protobuf-JSON (pbjson) serde impls.
//! protoc comes from `protoc-bin-vendored`, so a fresh machine needs nothing installed.
use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let protos = ["vum/v3/werkzoekenden.proto", "vum/v3/vacatures.proto"];
    for p in &protos {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let descriptor = out.join("vum_descriptor.bin");
    prost_build::Config::new()
        .file_descriptor_set_path(&descriptor)
        .compile_well_known_types()
        .compile_protos(&protos.map(|p| root.join(p)), std::slice::from_ref(&root))?;
    let set = std::fs::read(&descriptor)?;
    pbjson_build::Builder::new()
        .register_descriptors(&set)?
        .build(&[".vum"])?;
    Ok(())
}
