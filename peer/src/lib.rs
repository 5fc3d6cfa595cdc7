//! The Weft peer node.
