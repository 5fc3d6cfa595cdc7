//! Compiles our .proto files (pure Rust, no protoc needed) into prost messages and tonic
//! services, and keeps the compiled descriptor set for the conformance test.

use std::path::{Path, PathBuf};

fn proto_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            proto_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    proto_files(&root, &mut files)?;
    files.sort();
    let fds = protox::compile(&files, [&root])?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("weft_descriptor_set.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // protos.Chaincode has an rpc named Connect, which clashes with the generated
        // constructor; clients are built from a Channel with `new` instead.
        .build_transport(false)
        // Sorted maps make our own encodings deterministic (config groups are maps).
        .btree_map(".")
        .compile_fds(fds)?;
    Ok(())
}
