//! Harness that runs upstream Fabric (and later Weft) nodes as local processes.
