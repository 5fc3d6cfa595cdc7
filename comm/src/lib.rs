//! gRPC and TLS plumbing shared by the peer and the orderer.
