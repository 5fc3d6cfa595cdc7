//! `orderer`: Weft's drop-in for Fabric's ordering service node.

fn main() -> std::process::ExitCode {
    eprintln!(
        "orderer {}: the ordering service is not implemented yet (see README's compatibility table)",
        env!("CARGO_PKG_VERSION")
    );
    std::process::ExitCode::from(2)
}
