//! Node configuration files (core.yaml, orderer.yaml) with Fabric's environment overrides.
