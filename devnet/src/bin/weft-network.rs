fn main() {
    eprintln!("weft-network: not wired yet");
    std::process::exit(2);
}
