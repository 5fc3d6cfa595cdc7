//! The Weft ordering service node.
