//! Harness that runs upstream Fabric and Weft nodes as local processes, and the interop tests that use it.
