// Command ccaasbuilder is Weft's stand-in for Fabric's chaincode-as-a-service
// external builder. Fabric's own builder is a separate Go module
// (github.com/hyperledger/fabric/ccaas_builder) that the module proxy does not
// serve, so the interop harness ships this one, written against the external
// builder contract the peer implements:
//
//	detect  SOURCE_DIR METADATA_DIR             exit 0 iff metadata.json type is "ccaas"
//	build   SOURCE_DIR METADATA_DIR OUTPUT_DIR  validate and stage connection.json
//	release BUILD_OUTPUT_DIR RELEASE_DIR        publish chaincode/server/connection.json
//
// One binary serves all three steps; the step is the name it is invoked by
// (the installer places copies named detect, build and release in one bin dir).
// Only the standard library is used so that it builds without any download.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// maxJSONBytes bounds the metadata.json and connection.json files we read;
// both are a few hundred bytes in practice.
const maxJSONBytes = 1 << 20

const packageType = "ccaas"

type packageMetadata struct {
	Type string `json:"type"`
}

// connectionInfo is the connection.json the peer reads from the release dir
// to dial a chaincode server.
type connectionInfo struct {
	Address            string `json:"address"`
	DialTimeout        string `json:"dial_timeout"`
	TLSRequired        bool   `json:"tls_required"`
	ClientAuthRequired bool   `json:"client_auth_required"`
	RootCert           string `json:"root_cert"`
	ClientKey          string `json:"client_key"`
	ClientCert         string `json:"client_cert"`
}

func main() {
	step := filepath.Base(os.Args[0])
	args := os.Args[1:]
	// Also allow "ccaasbuilder <step> args..." for manual use.
	if step != "detect" && step != "build" && step != "release" && len(args) > 0 {
		step, args = args[0], args[1:]
	}
	var err error
	switch step {
	case "detect":
		err = detect(args)
	case "build":
		err = build(args)
	case "release":
		err = release(args)
	default:
		err = fmt.Errorf("unknown step %q: invoke as detect, build or release", step)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ccaas %s: %v\n", step, err)
		os.Exit(1)
	}
}

func detect(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: detect SOURCE_DIR METADATA_DIR")
	}
	return requireCCaaSType(args[1])
}

func requireCCaaSType(metadataDir string) error {
	var md packageMetadata
	if err := readJSON(filepath.Join(metadataDir, "metadata.json"), &md); err != nil {
		return err
	}
	if !strings.EqualFold(md.Type, packageType) {
		return fmt.Errorf("package type %q is not %q", md.Type, packageType)
	}
	return nil
}

func build(args []string) error {
	if len(args) < 3 {
		return errors.New("usage: build SOURCE_DIR METADATA_DIR OUTPUT_DIR")
	}
	sourceDir, metadataDir, outputDir := args[0], args[1], args[2]
	if err := requireCCaaSType(metadataDir); err != nil {
		return err
	}
	if err := copyTree(metadataDir, outputDir); err != nil {
		return fmt.Errorf("staging metadata: %w", err)
	}
	metaInf := filepath.Join(sourceDir, "META-INF")
	if _, err := os.Stat(metaInf); err == nil {
		if err := copyTree(metaInf, filepath.Join(outputDir, "META-INF")); err != nil {
			return fmt.Errorf("staging META-INF: %w", err)
		}
	}
	var conn connectionInfo
	if err := readJSON(filepath.Join(sourceDir, "connection.json"), &conn); err != nil {
		return err
	}
	expanded, err := expandTemplates(conn)
	if err != nil {
		return err
	}
	out, err := json.Marshal(expanded)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outputDir, "connection.json"), out, 0o644)
}

// expandTemplates fills Go-template placeholders in connection.json from the
// JSON object in CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG, so one package can
// name a per-peer address such as "{{.peername}}-cc:9999".
func expandTemplates(conn connectionInfo) (connectionInfo, error) {
	var cfg map[string]any
	if raw := os.Getenv("CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
			return conn, fmt.Errorf("CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG is not a JSON object: %w", err)
		}
	}
	fields := []*string{&conn.Address, &conn.DialTimeout}
	if conn.TLSRequired {
		fields = append(fields, &conn.RootCert, &conn.ClientKey, &conn.ClientCert)
	} else {
		conn.ClientAuthRequired, conn.RootCert, conn.ClientKey, conn.ClientCert = false, "", "", ""
	}
	for _, field := range fields {
		t, err := template.New("").Option("missingkey=error").Parse(*field)
		if err != nil {
			return conn, fmt.Errorf("connection.json template %q: %w", *field, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, cfg); err != nil {
			return conn, fmt.Errorf("connection.json template %q: %w", *field, err)
		}
		*field = buf.String()
	}
	return conn, nil
}

func release(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: release BUILD_OUTPUT_DIR RELEASE_DIR")
	}
	buildDir, releaseDir := args[0], args[1]
	statedb := filepath.Join(buildDir, "META-INF", "statedb")
	if _, err := os.Stat(statedb); err == nil {
		if err := copyTree(statedb, filepath.Join(releaseDir, "statedb")); err != nil {
			return fmt.Errorf("publishing statedb indexes: %w", err)
		}
	}
	conn, err := readBounded(filepath.Join(buildDir, "connection.json"))
	if err != nil {
		return err
	}
	serverDir := filepath.Join(releaseDir, "chaincode", "server")
	if err := os.MkdirAll(serverDir, 0o750); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(serverDir, "connection.json"), conn, 0o644)
}

func readBounded(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Size() > maxJSONBytes {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed", path, info.Size(), maxJSONBytes)
	}
	return os.ReadFile(path)
}

func readJSON(path string, into any) error {
	raw, err := readBounded(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// copyTree copies regular files and directories from src into dst, creating
// dst as needed; symlinks and other special files are skipped.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o750)
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		default:
			return nil
		}
	})
}
