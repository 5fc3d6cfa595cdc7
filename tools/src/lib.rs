//! Weft's cryptogen and configtxgen, command-line compatible with Fabric's for network setup.
