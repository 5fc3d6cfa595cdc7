//! `peer`: Weft's drop-in for Fabric's peer node.

fn main() -> std::process::ExitCode {
    eprintln!(
        "peer {}: the peer node is not implemented yet (see README's compatibility table)",
        env!("CARGO_PKG_VERSION")
    );
    std::process::ExitCode::from(2)
}
