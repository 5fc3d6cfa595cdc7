#!/usr/bin/env bash
# Installs the upstream reference toolchain the interop tests run next to Weft:
#
#   $DEST/fabric-<version>/bin/{peer,orderer,configtxgen,cryptogen,osnadmin,configtxlator}
#   $DEST/fabric-<version>/config/{core.yaml,orderer.yaml,configtx.yaml}  (module sampleconfig)
#   $DEST/ccaas/bin/{detect,build,release}   chaincode-as-a-service external builder
#   $DEST/chaincode/bin/weft-ccaas           the sample contracts as ccaas servers
#   interop-tests/node/node_modules          pinned Node clients (package-lock.json)
#   interop-tests/caliper/node_modules       pinned Hyperledger Caliper + Gateway SDK (package-lock.json)
#
# DEST is $WEFT_UPSTREAM_DIR, default <repo>/.cache/upstream. Every component is
# pinned and stamped: a re-run with the same pins does nothing.
#
# Usage: interop-tests/upstream/install.sh [fabric-2.5.9] [fabric-3.1.1] [ccaas] [chaincode] [node] [caliper]
#        (no argument: everything). Needs go, node and npm on PATH, and network
#        access to the Go module proxy and the npm registry.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DEST="${WEFT_UPSTREAM_DIR:-$REPO/.cache/upstream}"
NODE_DIR="$REPO/interop-tests/node"
CALIPER_DIR="$REPO/interop-tests/caliper"

FABRIC_MODULE="github.com/hyperledger/fabric"
# Fabric's go.mod has no /v2 suffix, so its release tags are not module
# versions; the proxy serves the release commits as pseudo-versions.
declare -A FABRIC_PSEUDO=(
    [2.5.9]="v1.4.0-rc1.0.20240618194258-7c3876255bf0"
    [3.1.1]="v1.4.0-rc1.0.20250510200036-435a7f1a780a"
)
FABRIC_COMMANDS=(peer orderer configtxgen cryptogen osnadmin configtxlator)
SAMPLE_CONFIGS=(core.yaml orderer.yaml configtx.yaml)

log() { printf '[install] %s\n' "$*"; }
die() { printf '[install] error: %s\n' "$*" >&2; exit 1; }

need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 is not on PATH; install it first ($2)"
}

# Content hash of the files a stamp vouches for, so edits invalidate the stamp.
tree_hash() {
    (cd "$1" && find . -type f ! -name '.stamp' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

fabric_is_current() {
    local root="$1" want="$2"
    [[ -f "$root/.stamp" && "$(cat "$root/.stamp")" == "$want" ]] || return 1
    local cmd cfg
    for cmd in "${FABRIC_COMMANDS[@]}"; do [[ -x "$root/bin/$cmd" ]] || return 1; done
    for cfg in "${SAMPLE_CONFIGS[@]}"; do [[ -f "$root/config/$cfg" ]] || return 1; done
}

install_fabric() {
    local version="$1"
    local pseudo="${FABRIC_PSEUDO[$version]:-}"
    [[ -n "$pseudo" ]] || die "no pinned module version for Fabric $version (known: ${!FABRIC_PSEUDO[*]})"
    local root="$DEST/fabric-$version"
    local commit="${pseudo##*-}"
    local stamp="$FABRIC_MODULE@$pseudo"
    if fabric_is_current "$root" "$stamp"; then
        log "fabric $version: up to date in $root ($pseudo)"
        return
    fi
    need go "Go 1.22 or newer"
    log "fabric $version: downloading $FABRIC_MODULE@$pseudo from the Go module proxy"
    local info dir
    # `go install pkg@version` cannot be used: it lists the module's versions
    # for deprecation notices, which the proxy refuses for this module.
    info="$(cd "$WORK" && go mod download -json "$FABRIC_MODULE@$pseudo")" ||
        die "go mod download $FABRIC_MODULE@$pseudo failed: $info"
    dir="$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
    [[ -n "$dir" && -d "$dir" ]] || die "go mod download did not report a module directory: $info"

    local src="$WORK/fabric-$version-src" stage="$WORK/fabric-$version-stage"
    rm -rf "$src" "$stage"
    cp -r "$dir" "$src"
    chmod -R u+w "$src"
    # Module zips carry a partial vendor/ tree; build from the module graph instead.
    rm -rf "$src/vendor"
    mkdir -p "$stage/bin" "$stage/config"

    local ldflags="-X $FABRIC_MODULE/common/metadata.Version=$version -X $FABRIC_MODULE/common/metadata.CommitSHA=$commit"
    local pkgs=() cmd
    for cmd in "${FABRIC_COMMANDS[@]}"; do pkgs+=("./cmd/$cmd"); done
    log "fabric $version: building ${FABRIC_COMMANDS[*]} (takes a few minutes)"
    local started=$SECONDS
    (cd "$src" && go build -buildvcs=false -trimpath -ldflags "$ldflags" -o "$stage/bin/" "${pkgs[@]}")
    log "fabric $version: built in $((SECONDS - started))s"
    local cfg
    for cfg in "${SAMPLE_CONFIGS[@]}"; do
        cp "$src/sampleconfig/$cfg" "$stage/config/$cfg"
    done
    # Keep the sample MSP too: core.yaml and orderer.yaml point at it by default.
    cp -r "$src/sampleconfig/msp" "$stage/config/msp"

    # Move files into place one by one: a rename leaves processes that are
    # still running an old binary unaffected.
    mkdir -p "$root/bin" "$root/config"
    rm -f "$root/.stamp"
    for cmd in "${FABRIC_COMMANDS[@]}"; do mv -f "$stage/bin/$cmd" "$root/bin/$cmd"; done
    rm -rf "$root/config"
    mv "$stage/config" "$root/config"
    printf '%s' "$stamp" >"$root/.stamp"
    rm -rf "$src" "$stage"
    log "fabric $version: installed into $root"
}

install_ccaas() {
    local root="$DEST/ccaas" source="$HERE/ccaas-builder"
    local want
    want="$(tree_hash "$source")"
    if [[ -f "$root/.stamp" && "$(cat "$root/.stamp")" == "$want" &&
        -x "$root/bin/detect" && -x "$root/bin/build" && -x "$root/bin/release" ]]; then
        log "ccaas builder: up to date in $root"
        return
    fi
    need go "Go 1.22 or newer"
    # Fabric's own builder is the separate module $FABRIC_MODULE/ccaas_builder,
    # which the module proxy does not serve (and the fabric module zip leaves
    # nested modules out), so we build our own implementation of the same
    # external builder contract.
    log "ccaas builder: building $source"
    local stage="$WORK/ccaas-stage"
    mkdir -p "$stage"
    (cd "$source" && go build -buildvcs=false -trimpath -o "$stage/ccaas" .)
    mkdir -p "$root/bin"
    local step
    for step in detect build release; do
        cp "$stage/ccaas" "$stage/$step"
        mv -f "$stage/$step" "$root/bin/$step"
    done
    printf '%s' "$want" >"$root/.stamp"
    log "ccaas builder: installed into $root/bin"
}

# The Go twins of Weft's sample WASM contracts (interop-tests/chaincode-go),
# served as chaincode-as-a-service to upstream peers. Dependencies are pinned
# by the module's committed go.sum; its unit tests run before the build.
install_chaincode() {
    local root="$DEST/chaincode" source="$REPO/interop-tests/chaincode-go"
    local want
    want="$(tree_hash "$source")"
    if [[ -f "$root/.stamp" && "$(cat "$root/.stamp")" == "$want" && -x "$root/bin/weft-ccaas" ]]; then
        log "chaincode servers: up to date in $root"
        return
    fi
    need go "Go 1.22 or newer"
    log "chaincode servers: testing and building $source"
    local stage="$WORK/chaincode-stage"
    mkdir -p "$stage"
    (cd "$source" && GOFLAGS=-mod=readonly go test ./... >"$stage/test.log" 2>&1) ||
        die "the chaincode servers' unit tests failed: $(cat "$stage/test.log")"
    (cd "$source" && GOFLAGS=-mod=readonly go build -buildvcs=false -trimpath -o "$stage/weft-ccaas" .)
    mkdir -p "$root/bin"
    mv -f "$stage/weft-ccaas" "$root/bin/weft-ccaas"
    printf '%s' "$want" >"$root/.stamp"
    log "chaincode servers: installed into $root/bin"
}

install_node() {
    need node "Node.js 20 or newer"
    need npm "npm"
    local stamp="$NODE_DIR/node_modules/.weft-stamp" want
    want="$(sha256sum "$NODE_DIR/package-lock.json" | cut -c1-16)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        log "node clients: up to date in $NODE_DIR/node_modules"
        return
    fi
    # No dependency needs its install script: the only packages that have one
    # are the optional pkcs11js builds, used for HSM signing only.
    log "node clients: npm ci --ignore-scripts in $NODE_DIR"
    (cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    (cd "$NODE_DIR" && node -e "require('@hyperledger/fabric-gateway'); require('fabric-network');") ||
        die "the Node clients were installed but cannot be loaded"
    printf '%s' "$want" >"$stamp"
    log "node clients: installed"
}

# Caliper 0.6.0 with its Fabric connector bound to @hyperledger/fabric-gateway (Fabric 2.4+)
# by installing that SDK and grpc-js as plain dependencies instead of `caliper bind`, which
# runs npm with install scripts.
install_caliper() {
    need node "Node.js 20 or newer"
    need npm "npm"
    local stamp="$CALIPER_DIR/node_modules/.weft-stamp" want
    want="$(sha256sum "$CALIPER_DIR/package-lock.json" | cut -c1-16)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        log "caliper: up to date in $CALIPER_DIR/node_modules"
        return
    fi
    # The packages with install scripts serve other Caliper connectors (web3's native keccak and
    # secp256k1, which fall back to JavaScript), print banners (core-js, es5-ext) or are optional
    # (pkcs11js, cpu-features); the Fabric Gateway path needs none of them.
    log "caliper: npm ci --ignore-scripts in $CALIPER_DIR"
    (cd "$CALIPER_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    (cd "$CALIPER_DIR" && node -e "require('@hyperledger/caliper-core'); require('@hyperledger/caliper-fabric'); require('@hyperledger/fabric-gateway');") ||
        die "Caliper was installed but cannot be loaded"
    printf '%s' "$want" >"$stamp"
    log "caliper: installed"
}

main() {
    local targets=("$@")
    if [[ ${#targets[@]} -eq 0 ]]; then
        targets=(fabric-2.5.9 fabric-3.1.1 ccaas chaincode node caliper)
    fi
    mkdir -p "$DEST"
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/weft-upstream-install.XXXXXX")"
    trap 'rm -rf "$WORK"' EXIT
    log "installing into $DEST: ${targets[*]}"
    local target
    for target in "${targets[@]}"; do
        case "$target" in
        fabric-*) install_fabric "${target#fabric-}" ;;
        ccaas) install_ccaas ;;
        chaincode) install_chaincode ;;
        node) install_node ;;
        caliper) install_caliper ;;
        -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown target '$target' (expected fabric-<version>, ccaas, chaincode, node or caliper)" ;;
        esac
    done
    log "done"
}

main "$@"
