//! Differential test against Fabric's own simulator: the same seeded state and the same stub
//! calls run through Fabric v2.5.9's transaction manager (a small Go driver built inside a copy
//! of the Fabric module, `upstream_go_rwset/main.go`) and through Weft's endorser; the public
//! read-write set bytes and the private write set bytes must be identical.
//!
//! Needs Go and the Fabric v2.5.9 module (from the Go module cache, or downloaded through the
//! Go proxy). Fails, never skips, when they are missing. The built driver is cached under
//! `.cache/endorser-go-rwset/` keyed by the driver's source hash.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fabric_protos::kvrwset::{KvMetadataEntry, KvMetadataWrite};
use fabric_protos::protos::{ChaincodeAction, ProposalResponsePayload};
use prost::Message;
use std::sync::Arc;

use weft_endorser::{CollectionAccess, LIFECYCLE_NAMESPACE};
use weft_ledger::kv::Height;

use crate::fakes::{Node, ProposalSpec, Script, build, sequence_key};

/// Fabric v2.5.9's release commit as a Go module version.
const FABRIC_MODULE: &str =
    "github.com/hyperledger/fabric@v1.4.0-rc1.0.20240618194258-7c3876255bf0";
const DRIVER_SOURCE: &str = include_str!("upstream_go_rwset/main.go");
const GO_BUILD_TIMEOUT: Duration = Duration::from_secs(1200);
const DRIVER_RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `command` to completion within `limit`, killing it otherwise; returns stdout.
fn run_bounded(mut command: Command, stdin: &str, limit: Duration) -> String {
    let description = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {description}: {e}"));
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
    }
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("{description} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{description} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn go(args: &[&str]) -> Command {
    let mut command = Command::new("go");
    command
        .args(args)
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local");
    command
}

/// Builds (or reuses) the Go driver inside a writable copy of the Fabric module.
fn driver() -> PathBuf {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/endorser-go-rwset");
    let key = hex::encode(&weft_protoutil::sha256(DRIVER_SOURCE.as_bytes())[..8]);
    let binary = cache.join(format!("weftdiff-{key}"));
    if binary.is_file() {
        return binary;
    }
    let module_cache = run_bounded(go(&["env", "GOMODCACHE"]), "", DRIVER_RUN_TIMEOUT);
    let (path, version) = FABRIC_MODULE.split_once('@').unwrap();
    let module = Path::new(module_cache.trim()).join(format!("{path}@{version}"));
    if !module.is_dir() {
        run_bounded(
            go(&["mod", "download", FABRIC_MODULE]),
            "",
            GO_BUILD_TIMEOUT,
        );
    }
    assert!(
        module.is_dir(),
        "Fabric module not found at {}",
        module.display()
    );
    let tree = cache.join(format!("fabric-{key}"));
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::create_dir_all(&cache).unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(&module)
        .arg(&tree)
        .status()
        .unwrap();
    assert!(status.success(), "copying the Fabric module failed");
    let status = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&tree)
        .status()
        .unwrap();
    assert!(status.success());
    // Inside core/ledger so the driver may use the ledger's internal version package.
    let dir = tree.join("core/ledger/weftdiff");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.go"), DRIVER_SOURCE).unwrap();
    let mut build = go(&["build", "-o"]);
    build
        .arg(&binary)
        .arg("./core/ledger/weftdiff")
        .current_dir(&tree);
    run_bounded(build, "", GO_BUILD_TIMEOUT);
    let _ = std::fs::remove_dir_all(&tree);
    binary
}

/// (namespace, key, value, serialized metadata, version) of a committed public entry.
type PublicSeed = (String, String, Vec<u8>, Option<Vec<u8>>, Height);

struct Scenario {
    /// The chaincode the proposal invokes: `mycc` (a user chaincode) or `_lifecycle`.
    chaincode: String,
    public: Vec<PublicSeed>,
    private: Vec<(String, String, String, Vec<u8>, Height)>,
    collections: Vec<(String, String)>,
    ops: Vec<String>,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            chaincode: "mycc".into(),
            public: Vec::new(),
            private: Vec::new(),
            collections: Vec::new(),
            ops: Vec::new(),
        }
    }
}

impl Scenario {
    fn put(&mut self, key: &str, value: &str, at: Height) -> &mut Self {
        self.public.push((
            "mycc".into(),
            key.into(),
            value.as_bytes().to_vec(),
            None,
            at,
        ));
        self
    }

    fn ops(&mut self, ops: &[&str]) -> &mut Self {
        self.ops = ops.iter().map(|s| s.to_string()).collect();
        self
    }

    /// The driver's input: the node's `_lifecycle` sequence keys, the seeds, then the
    /// lifecycle's sequence read (user chaincodes only: Go looks system chaincodes up without
    /// reading) and the chaincode's calls. A `nsget:<ns>:<key>` call is a read of `<ns>`.
    fn script(&self) -> String {
        let mut out = String::new();
        for (cc, at) in [("mycc", Height::new(1, 0)), ("othercc", Height::new(1, 1))] {
            out += &format!(
                "seed _lifecycle {} 0801 {} {}\n",
                hex::encode(sequence_key(cc)),
                at.block_num,
                at.tx_num
            );
        }
        for (ns, key, value, metadata, at) in &self.public {
            match metadata {
                None => {
                    out += &format!(
                        "seed {ns} {} {} {} {}\n",
                        hex::encode(key),
                        hex::encode(value),
                        at.block_num,
                        at.tx_num
                    )
                }
                Some(m) => {
                    out += &format!(
                        "seedmeta {ns} {} {} {} {} {}\n",
                        hex::encode(key),
                        hex::encode(value),
                        hex::encode(m),
                        at.block_num,
                        at.tx_num
                    )
                }
            }
        }
        for (ns, coll, key, value, at) in &self.private {
            out += &format!(
                "seedp {ns} {coll} {} {} {} {}\n",
                hex::encode(key),
                hex::encode(value),
                at.block_num,
                at.tx_num
            );
        }
        for (ns, coll) in &self.collections {
            out += &format!("coll {ns} {coll}\n");
        }
        if self.chaincode != LIFECYCLE_NAMESPACE {
            out += &format!("op _lifecycle get:{}\n", sequence_key(&self.chaincode));
        }
        for op in &self.ops {
            match op
                .strip_prefix("nsget:")
                .and_then(|rest| rest.split_once(':'))
            {
                Some((ns, key)) => out += &format!("op {ns} get:{key}\n"),
                None => out += &format!("op {} {op}\n", self.chaincode),
            }
        }
        out
    }

    /// Public, private and response-payload bytes from Fabric's code, the payload for the
    /// proposal and chaincode response Weft saw.
    fn go(&self, driver: &Path, weft: &WeftRun) -> (String, String, String) {
        let mut script = self.script();
        script += &format!(
            "proposal {}\n",
            hex::encode(weft.signed_proposal.encode_to_vec())
        );
        script += &format!(
            "response {} {} {}\n",
            weft.response.status,
            hex::encode(&weft.response.message),
            hex::encode(&weft.response.payload)
        );
        let version = if self.chaincode == LIFECYCLE_NAMESPACE {
            "syscc"
        } else {
            "1.0"
        };
        script += &format!("ccid {} {version}\n", self.chaincode);
        let stdout = run_bounded(Command::new(driver), &script, DRIVER_RUN_TIMEOUT);
        let field = |name: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|| panic!("driver printed no {name}: {stdout}"))
        };
        (field("public "), field("private "), field("payload "))
    }

    /// What Weft's endorser produced.
    async fn weft(&self) -> WeftRun {
        let node = Node::new();
        for (ns, key, value, metadata, at) in &self.public {
            node.channel
                .put_with_metadata(ns, key, value, metadata.clone(), *at);
        }
        for (ns, coll, key, value, at) in &self.private {
            node.channel.put_private(ns, coll, key, value, *at);
        }
        // `_lifecycle`'s implicit collections are the endorser's to resolve: the channel knows
        // none of them, so a lookup through it would fail the simulation.
        for (ns, coll) in self
            .collections
            .iter()
            .filter(|(ns, _)| ns != LIFECYCLE_NAMESPACE)
        {
            node.channel.collections.lock().unwrap().insert(
                (ns.clone(), coll.clone()),
                CollectionAccess {
                    read: true,
                    write: true,
                },
            );
        }
        let args: Vec<&str> = self.ops.iter().map(String::as_str).collect();
        node.registry
            .0
            .lock()
            .unwrap()
            .insert(LIFECYCLE_NAMESPACE.into(), Arc::new(Script));
        let mut spec = ProposalSpec::invoke(&self.chaincode, &args);
        // Transient data stays out of the proposal hash.
        spec.transient.insert("price".into(), b"secret".to_vec());
        let proposal = build(&spec, &node.client);
        let response = node
            .endorser
            .process(proposal.signed.clone())
            .await
            .unwrap();
        let status = response.response.clone().unwrap();
        assert_eq!(status.status, 200, "{}", status.message);
        let payload = ProposalResponsePayload::decode(response.payload.as_slice()).unwrap();
        let action = ChaincodeAction::decode(payload.extension.as_slice()).unwrap();
        let private = node
            .channel
            .distributed
            .lock()
            .unwrap()
            .first()
            .map(|(_, set)| hex::encode(set.encode_to_vec()))
            .unwrap_or_default();
        WeftRun {
            public: hex::encode(action.results),
            private,
            payload: hex::encode(&response.payload),
            signed_proposal: proposal.signed,
            response: status,
        }
    }
}

struct WeftRun {
    public: String,
    private: String,
    payload: String,
    signed_proposal: fabric_protos::protos::SignedProposal,
    response: fabric_protos::protos::Response,
}

fn scenarios() -> Vec<(&'static str, Scenario)> {
    let mut out = Vec::new();

    let mut s = Scenario::default();
    s.put("a", "va", Height::new(1, 0))
        .put("b", "vb", Height::new(1, 1))
        .put("c", "vc", Height::new(2, 0))
        .put("z", "vz", Height::new(3, 0));
    s.put("\u{0}obj\u{0}1\u{0}", "composite", Height::new(3, 1));
    let metadata = KvMetadataWrite {
        key: String::new(),
        entries: vec![KvMetadataEntry {
            name: "VALIDATION_PARAMETER".into(),
            // The endorser parses committed key policies for the interest, as Go does.
            value: fabric_protos::common::SignaturePolicyEnvelope {
                version: 1,
                ..Default::default()
            }
            .encode_to_vec(),
        }],
    };
    s.public.push((
        "mycc".into(),
        "d".into(),
        b"vd".to_vec(),
        Some(metadata.encode_to_vec()),
        Height::new(2, 1),
    ));
    s.ops(&[
        "get:z",
        "get:a",
        "put:k2=x",
        "put:k1=y",
        "del:b",
        "range:b:d",
        "meta:d:VALIDATION_PARAMETER=pol",
        "get:missing",
        "put:a=new",
        "get:a",
        "range::",
        "range:b:d",
        "getmeta:d",
        "getmeta:c",
        "del:never",
        "event:created=abc",
    ]);
    out.push(("public reads, writes, deletes, metadata and ranges", s));

    let mut s = Scenario::default();
    for i in 0..2700u64 {
        s.put(
            &format!("key{i:05}"),
            "v",
            Height::new(5 + i / 1000, i % 1000),
        );
    }
    s.ops(&[
        "range:key:kez",
        "range:key00100:key00160",
        "range:key00000:key00051",
    ]);
    out.push(("merkle summaries at one and two levels", s));

    let mut s = Scenario::default();
    s.put("a", "va", Height::new(1, 0))
        .put("b", "vb", Height::new(1, 1))
        .put("c", "vc", Height::new(2, 0))
        .put("d", "vd", Height::new(2, 1))
        .put("z", "vz", Height::new(3, 0));
    s.ops(&[
        "page:a::2:",
        "page:a::2:c",
        "page:a::10:",
        "page:m:n:5:",
        "page::z:3:",
        "get:a",
    ]);
    out.push(("paginated ranges", s));

    let mut s = Scenario::default();
    s.put("a", "va", Height::new(1, 0));
    s.private.push((
        "mycc".into(),
        "coll".into(),
        "p1".into(),
        b"secret".to_vec(),
        Height::new(4, 2),
    ));
    s.private.push((
        "mycc".into(),
        "other".into(),
        "q".into(),
        b"quiet".to_vec(),
        Height::new(4, 3),
    ));
    s.collections = vec![
        ("mycc".into(), "coll".into()),
        ("mycc".into(), "other".into()),
    ];
    s.ops(&[
        "pget:coll:p1",
        "pput:coll:k9=nine",
        "pput:coll:k2=two",
        "pdel:coll:gone",
        "phash:coll:nothing",
        "phash:other:q",
        "pput:other:x=1",
        "put:a=pub",
        "get:a",
    ]);
    out.push(("private data", s));

    // `_lifecycle` approving a chaincode it does not define yet: Go's `validateInput` reads the
    // legacy `lscc/<name>` through the transaction's simulator, and the org collections are
    // implicit ones whose lookup reads nothing (F25 core/chaincode/lifecycle/scc.go,
    // deployedcc_infoprovider.go). The driver's collection list stands in for the implicit
    // collections Fabric derives from the channel config.
    let mut s = Scenario {
        chaincode: LIFECYCLE_NAMESPACE.into(),
        ..Default::default()
    };
    let org1 = "_implicit_org_Org1MSP";
    let org2 = "_implicit_org_Org2MSP";
    s.public.push((
        "lscc".into(),
        "legacycc".into(),
        b"legacy-definition".to_vec(),
        None,
        Height::new(2, 3),
    ));
    s.public.push((
        LIFECYCLE_NAMESPACE.into(),
        "namespaces/fields/newcc/Sequence".into(),
        b"\x08\x01".to_vec(),
        None,
        Height::new(6, 1),
    ));
    s.private.push((
        LIFECYCLE_NAMESPACE.into(),
        org1.into(),
        "namespaces/metadata/newcc#2".into(),
        b"approved".to_vec(),
        Height::new(7, 0),
    ));
    s.private.push((
        LIFECYCLE_NAMESPACE.into(),
        org2.into(),
        "namespaces/fields/newcc#2/EndorsementInfo".into(),
        b"theirs".to_vec(),
        Height::new(7, 1),
    ));
    s.collections = vec![
        (LIFECYCLE_NAMESPACE.into(), org1.into()),
        (LIFECYCLE_NAMESPACE.into(), org2.into()),
    ];
    s.ops(&[
        "nsget:lscc:newcc",
        "nsget:lscc:legacycc",
        "get:namespaces/fields/newcc/Sequence",
        "get:namespaces/metadata/newcc",
        &format!("pget:{org1}:namespaces/metadata/newcc#2"),
        &format!("pget:{org1}:namespaces/fields/newcc#2/Collections"),
        &format!("phash:{org1}:namespaces/metadata/newcc#2"),
        &format!("phash:{org2}:namespaces/fields/newcc#2/EndorsementInfo"),
        &format!("phash:{org2}:namespaces/metadata/newcc#2"),
        &format!("pput:{org1}:namespaces/metadata/newcc#2=ChaincodeParameters"),
        &format!("pput:{org1}:namespaces/fields/newcc#2/EndorsementInfo=e"),
    ]);
    out.push(("_lifecycle: lscc read and implicit collections", s));
    out
}

// Fabric v2.5.9's simulator and response builder are the spec: Weft's rwset and
// ProposalResponsePayload bytes must equal theirs.
#[tokio::test]
async fn upstream_rwset_bytes_equal_fabric_simulator() {
    let driver = driver();
    for (name, scenario) in scenarios() {
        let weft = scenario.weft().await;
        let (public, private, payload) = scenario.go(&driver, &weft);
        assert_eq!(
            weft.public, public,
            "public rwset differs from Fabric's: {name}"
        );
        assert_eq!(
            weft.private, private,
            "private rwset differs from Fabric's: {name}"
        );
        assert_eq!(
            weft.payload, payload,
            "response payload differs from Fabric's: {name}"
        );
        assert!(!public.is_empty(), "{name}");
    }
}
