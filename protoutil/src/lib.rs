//! Helpers over Fabric's wire types: transaction ids, block header and data hashes, envelope and proposal assembly.
