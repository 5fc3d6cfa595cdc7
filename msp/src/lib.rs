//! X.509 membership service providers: local and channel MSPs, identity validation, signing identities.
