// Package layers checks that the module's dependencies run one way:
// mains -> daemons -> mechanisms -> contracts (DESIGN.md, "Contracts live
// in leaf packages"). It has only this test.
package layers

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// module is this module's path.
const module = "github.com/dcnet/dcnet/"

// contracts are the leaf packages two components share: keys, records,
// HTTP paths, headers and answers. They import no other package of the
// module except other contracts.
var contracts = []string{
	"cluster", "overlayd/api", "l4lb/l4lbapi", "dns/dnsapi", "l7lb/model", "l7lb/l7lbapi",
}

// daemons run a component (the package a main wires and starts). Nothing
// but a main or a test helper may import one.
var daemons = []string{
	"overlayd", "l4lb/daemon", "cnm", "ctl", "dns/node", "dns/mesosdns", "l7lb/daemon",
}

// clients must not link a daemon's heavy machinery: the etcd server
// (linked only by whoever embeds one) and google/nftables (dcnet-l4lb's
// data plane).
var clients = map[string][]string{
	"ctl/cmd/dcnetctl":    {"go.etcd.io/etcd/server/", "github.com/google/nftables"},
	"dns/cmd/dcnet-dns":   {"go.etcd.io/etcd/server/", "github.com/google/nftables"},
	"l4lb/cmd/dcnet-l4lb": {"go.etcd.io/etcd/server/"},
	"cnm/cmd/dcnet-cnm":   {"go.etcd.io/etcd/", "github.com/google/nftables"},
	"plugins/cmd/dcnet":   {"go.etcd.io/etcd/", "github.com/google/nftables"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Name       string
}

func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "list", "-json=ImportPath,Imports,Deps,Name", "./...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, module)] = p
	}
	return pkgs
}

func ours(imports []string) []string {
	var out []string
	for _, i := range imports {
		if rest, ok := strings.CutPrefix(i, module); ok {
			out = append(out, rest)
		}
	}
	return out
}

func TestContractsAreLeaves(t *testing.T) {
	pkgs := listPackages(t)
	isContract := map[string]bool{}
	for _, c := range contracts {
		isContract[c] = true
	}
	for _, c := range contracts {
		p, ok := pkgs[c]
		if !ok {
			continue // not written yet
		}
		for _, imp := range ours(p.Imports) {
			if !isContract[imp] {
				t.Errorf("contract package %s imports %s: contracts may import only other contracts (%v)", c, imp, contracts)
			}
		}
	}
}

func TestOnlyMainsImportDaemons(t *testing.T) {
	pkgs := listPackages(t)
	isDaemon := map[string]bool{}
	for _, d := range daemons {
		isDaemon[d] = true
	}
	for path, p := range pkgs {
		if p.Name == "main" || strings.HasPrefix(path, "internal/") || strings.HasPrefix(path, "bench/") {
			continue
		}
		for _, imp := range ours(p.Imports) {
			if isDaemon[imp] && !isDaemon[path] {
				t.Errorf("%s imports the daemon package %s: move what it needs into a contract or mechanism package", path, imp)
			}
			if isDaemon[imp] && isDaemon[path] {
				t.Errorf("daemon %s imports daemon %s: share a contract package instead", path, imp)
			}
		}
	}
}

func TestClientsStayLight(t *testing.T) {
	pkgs := listPackages(t)
	for path, banned := range clients {
		p, ok := pkgs[path]
		if !ok {
			t.Errorf("main package %s not found", path)
			continue
		}
		for _, dep := range p.Deps {
			for _, b := range banned {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s links %s (banned prefix %s)", path, dep, b)
					break
				}
			}
		}
	}
}
