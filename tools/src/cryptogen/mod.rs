//! Fabric-compatible `cryptogen`: key material for orderer and peer organizations.

pub mod cert;
pub mod generate;
pub mod spec;
pub mod template;

pub use generate::generate;
pub use spec::{CryptoConfig, parse};

/// Printed by `cryptogen showtemplate`: a starting point for crypto-config.yaml.
pub const SAMPLE_CONFIG: &str = "\
# crypto-config.yaml for weft cryptogen (same format as Fabric's cryptogen).
#
# Each organization gets a signing CA and a TLS CA. Nodes come from Specs (explicit host
# names) and from Template (Count hosts named Prefix+Index, starting at Start).
# Peer organizations also get Users.Count users besides Admin.
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
        SANS:
          - localhost
          - 127.0.0.1

PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    # CA:
    #   Hostname: ca          # certificate name becomes ca.org1.example.com
    #   Country: US
    #   Province: California
    #   Locality: San Francisco
    #   OrganizationalUnit: Example Unit
    Template:
      Count: 1
      # Start: 0
      # Hostname: \"{{.Prefix}}{{.Index}}\"
      # SANS: [\"{{.Hostname}}.alt.{{.Domain}}\"]
    Users:
      Count: 1
";
