//! The crypto-config.yaml model and its expansion into concrete node names, as Fabric's
//! cryptogen reads it: `Template` hosts are appended after explicit `Specs`, each spec gets
//! CommonName `{{.Hostname}}.{{.Domain}}` unless it sets its own, and SANs start with the
//! CommonName and the host name, followed by the spec's own (templated) entries.

use serde::Deserialize;

use super::template::render;
use crate::error::ToolError;

/// A bound on generated hosts or users per organization, to refuse runaway counts.
pub const NODES_PER_ORG_MAX: usize = 10_000;

const DEFAULT_HOSTNAME_TEMPLATE: &str = "{{.Prefix}}{{.Index}}";
const DEFAULT_CN_TEMPLATE: &str = "{{.Hostname}}.{{.Domain}}";

#[derive(Debug, Default, Deserialize)]
pub struct CryptoConfig {
    #[serde(rename = "OrdererOrgs", default)]
    pub orderer_orgs: Vec<OrgSpec>,
    #[serde(rename = "PeerOrgs", default)]
    pub peer_orgs: Vec<OrgSpec>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct OrgSpec {
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "Domain", default)]
    pub domain: String,
    #[serde(rename = "EnableNodeOUs", default)]
    pub enable_node_ous: bool,
    #[serde(rename = "CA", default)]
    pub ca: NodeSpec,
    #[serde(rename = "Template", default)]
    pub template: NodeTemplate,
    #[serde(rename = "Specs", default)]
    pub specs: Vec<NodeSpec>,
    #[serde(rename = "Users", default)]
    pub users: UsersSpec,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct NodeTemplate {
    #[serde(rename = "Count", default)]
    pub count: usize,
    #[serde(rename = "Start", default)]
    pub start: i64,
    #[serde(rename = "Hostname", default)]
    pub hostname: String,
    #[serde(rename = "SANS", default)]
    pub sans: Vec<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct NodeSpec {
    #[serde(rename = "Hostname", default)]
    pub hostname: String,
    #[serde(rename = "CommonName", default)]
    pub common_name: String,
    #[serde(rename = "Country", default)]
    pub country: String,
    #[serde(rename = "Province", default)]
    pub province: String,
    #[serde(rename = "Locality", default)]
    pub locality: String,
    #[serde(rename = "OrganizationalUnit", default)]
    pub organizational_unit: String,
    #[serde(rename = "StreetAddress", default)]
    pub street_address: String,
    #[serde(rename = "PostalCode", default)]
    pub postal_code: String,
    #[serde(rename = "SANS", default)]
    pub sans: Vec<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct UsersSpec {
    #[serde(rename = "Count", default)]
    pub count: usize,
}

/// A node after template expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedNode {
    pub hostname: String,
    pub common_name: String,
    pub sans: Vec<String>,
}

/// An organization after template expansion.
#[derive(Debug, Clone)]
pub struct RenderedOrg {
    pub spec: OrgSpec,
    pub ca: RenderedNode,
    pub nodes: Vec<RenderedNode>,
}

pub fn parse(yaml: &str) -> Result<CryptoConfig, String> {
    serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())
}

/// Expands `Template` into specs and renders names; `prefix` is "peer" or "orderer".
pub fn render_org(org: &OrgSpec, prefix: &str) -> Result<RenderedOrg, ToolError> {
    if org.template.count + org.specs.len() > NODES_PER_ORG_MAX
        || org.users.count > NODES_PER_ORG_MAX
    {
        return Err(ToolError::Config(format!(
            "organization {:?} asks for more than {NODES_PER_ORG_MAX} nodes or users",
            org.domain
        )));
    }
    let mut specs = org.specs.clone();
    for i in 0..org.template.count {
        let index = (i as i64 + org.template.start).to_string();
        let template = non_empty_or(&org.template.hostname, DEFAULT_HOSTNAME_TEMPLATE);
        let hostname = render(template, &|field| match field {
            "Prefix" => Some(prefix.to_string()),
            "Index" => Some(index.clone()),
            "Domain" => Some(org.domain.clone()),
            _ => None,
        })?;
        specs.push(NodeSpec {
            hostname,
            sans: org.template.sans.clone(),
            ..NodeSpec::default()
        });
    }
    let nodes = specs
        .iter()
        .map(|spec| render_node(&org.domain, spec))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ca_spec = org.ca.clone();
    if ca_spec.hostname.is_empty() {
        ca_spec.hostname = "ca".to_string();
    }
    let ca = render_node(&org.domain, &ca_spec)?;
    Ok(RenderedOrg {
        spec: org.clone(),
        ca,
        nodes,
    })
}

fn render_node(domain: &str, spec: &NodeSpec) -> Result<RenderedNode, ToolError> {
    let cn_template = non_empty_or(&spec.common_name, DEFAULT_CN_TEMPLATE);
    let common_name = render(cn_template, &|field| match field {
        "Hostname" => Some(spec.hostname.clone()),
        "Domain" => Some(domain.to_string()),
        "CommonName" => Some(String::new()),
        _ => None,
    })?;
    let mut sans = vec![common_name.clone(), spec.hostname.clone()];
    for san in &spec.sans {
        sans.push(render(san, &|field| match field {
            "Hostname" => Some(spec.hostname.clone()),
            "Domain" => Some(domain.to_string()),
            "CommonName" => Some(common_name.clone()),
            _ => None,
        })?);
    }
    Ok(RenderedNode {
        hostname: spec.hostname.clone(),
        common_name,
        sans,
    })
}

fn non_empty_or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() { default } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hosts_follow_specs_and_get_default_names() {
        // Mirrors upstream cryptogen's renderOrgSpec: Template hosts come after Specs,
        // numbered from Start, and every node's SANs begin with its CN and host name.
        let config = parse(
            r#"
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    Specs:
      - Hostname: foo
        CommonName: foo27.org5.example.com
        SANS: ["bar.{{.Domain}}", "{{.Hostname}}.alt", "{{.CommonName}}.x", "10.0.0.1"]
    Template:
      Count: 2
      Start: 5
      SANS: ["{{.Hostname}}.alt.{{.Domain}}"]
    Users:
      Count: 3
"#,
        )
        .unwrap();
        let org = render_org(&config.peer_orgs[0], "peer").unwrap();
        let names: Vec<_> = org.nodes.iter().map(|n| n.common_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "foo27.org5.example.com",
                "peer5.org1.example.com",
                "peer6.org1.example.com"
            ]
        );
        assert_eq!(
            org.nodes[0].sans,
            [
                "foo27.org5.example.com",
                "foo",
                "bar.org1.example.com",
                "foo.alt",
                "foo27.org5.example.com.x",
                "10.0.0.1"
            ]
        );
        assert_eq!(
            org.nodes[2].sans,
            [
                "peer6.org1.example.com",
                "peer6",
                "peer6.alt.org1.example.com"
            ]
        );
        assert_eq!(org.ca.common_name, "ca.org1.example.com");
        assert_eq!(org.spec.users.count, 3);
    }

    #[test]
    fn custom_hostname_template_and_ca_hostname() {
        let config = parse(
            r#"
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    CA: { Hostname: myca, Country: DE }
    Template: { Count: 1, Hostname: "node{{.Index}}-{{.Prefix}}" }
"#,
        )
        .unwrap();
        let org = render_org(&config.orderer_orgs[0], "orderer").unwrap();
        assert_eq!(org.nodes[0].common_name, "node0-orderer.example.com");
        assert_eq!(org.ca.common_name, "myca.example.com");
        assert_eq!(org.spec.ca.country, "DE");
    }

    #[test]
    fn refuses_huge_counts() {
        let config = parse("PeerOrgs:\n  - Domain: a\n    Template: { Count: 100000 }\n").unwrap();
        assert!(render_org(&config.peer_orgs[0], "peer").is_err());
    }
}
