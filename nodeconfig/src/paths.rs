//! Resolving relative paths against the config file's directory (Fabric's `TranslatePath`).

use std::path::{Component, Path, PathBuf};

/// An absolute path is returned unchanged; a relative one is joined to `base` and cleaned
/// lexically, as Go's `filepath.Join` does (`.` segments dropped, `..` folded).
pub fn translate_path(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    clean(&base.join(p))
}

/// Go's `filepath.Clean` for Unix paths.
fn clean(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_like_fabric() {
        let base = Path::new("/etc/hyperledger/fabric");
        assert_eq!(
            translate_path(base, "msp"),
            Path::new("/etc/hyperledger/fabric/msp")
        );
        assert_eq!(
            translate_path(base, "./tls/../ca.crt"),
            Path::new("/etc/hyperledger/fabric/ca.crt")
        );
        assert_eq!(translate_path(base, "../../x"), Path::new("/etc/x"));
        assert_eq!(translate_path(base, "/abs/./x"), Path::new("/abs/./x"));
        // A config found as "./core.yaml" has "." as its directory; results stay relative.
        assert_eq!(translate_path(Path::new("."), "msp"), Path::new("msp"));
        assert_eq!(
            translate_path(Path::new("."), "../msp"),
            Path::new("../msp")
        );
        assert_eq!(translate_path(Path::new("/"), "../x"), Path::new("/x"));
    }
}
