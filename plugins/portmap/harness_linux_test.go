package portmap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/dcnet/dcnet/internal/netsim"
)

// callTimeout bounds one plugin run in the privileged tests.
const callTimeout = 60 * time.Second

// buildPlugins builds dcnet-portmap and the reference bridge, host-local
// and portmap plugins (the versions go.mod pins) into one directory, the
// tests' CNI_PATH.
func buildPlugins(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./plugins/cmd/dcnet-portmap",
		"github.com/containernetworking/plugins/plugins/main/bridge",
		"github.com/containernetworking/plugins/plugins/ipam/host-local")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// cniCall runs a plugin binary inside the node netns the way a runtime
// does; a failure returns the CNI error it printed.
func cniCall(node *netsim.Node, cniPath, plugin, command, id, netns, conf string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := node.Exec(ctx, filepath.Join(cniPath, plugin))
	cmd.Env = append(os.Environ(), "CNI_COMMAND="+command, "CNI_CONTAINERID="+id, "CNI_NETNS="+netns,
		"CNI_IFNAME=eth0", "CNI_PATH="+cniPath)
	cmd.Stdin = strings.NewReader(conf)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		var e types.Error
		if json.Unmarshal(so.Bytes(), &e) == nil && e.Msg != "" {
			return so.String(), &e
		}
		return so.String(), fmt.Errorf("%s %s %s: %v: %s %s", plugin, command, id, err, so.String(), se.String())
	}
	return so.String(), nil
}

// rulesetOf is the namespace's normalised rules (netsim.Namespace.Rules).
func rulesetOf(t *testing.T, n netsim.Namespace) []string {
	t.Helper()
	out, err := n.Rules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantRulesetUnchanged fails t when n's rules differ from before.
func wantRulesetUnchanged(t *testing.T, n netsim.Namespace, before []string) {
	t.Helper()
	if after := rulesetOf(t, n); !slices.Equal(before, after) {
		t.Errorf("rules left in %s:\nbefore:\n%s\nafter:\n%s", n.NSName, strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
}

// run runs argv in the host's view (ip -n ... commands) and fails t.
func mustRun(t *testing.T, n netsim.Namespace, argv ...string) string {
	t.Helper()
	out, err := n.Run(context.Background(), argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dialName dials addr from n once and returns the name the server
// answered, or the error.
func dialName(n netsim.Namespace, addr string) (string, error) {
	counts, err := netsim.DialCount(n, 1, addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	for name := range counts {
		return name, nil
	}
	return "", fmt.Errorf("no answer from %s", addr)
}

// wantName fails t unless a dial from n to addr reaches the server name.
func wantName(t *testing.T, what string, n netsim.Namespace, addr, name string) {
	t.Helper()
	got, err := dialName(n, addr)
	if err != nil || got != name {
		t.Errorf("%s: dial %s from %s: %q, %v; want %q", what, addr, n.NSName, got, err, name)
	}
}

// wantUDPName is wantName for UDP.
func wantUDPName(t *testing.T, what string, n netsim.Namespace, addr, name string) {
	t.Helper()
	counts, err := netsim.DialCountUDP(n, 1, addr, 2*time.Second)
	if err != nil || counts[name] != 1 {
		t.Errorf("%s: UDP to %s from %s: %v, %v; want an answer from %q", what, addr, n.NSName, counts, err, name)
	}
}

// wantNoAnswer fails t when a dial from n to addr reaches any server.
func wantNoAnswer(t *testing.T, what string, n netsim.Namespace, addr string) {
	t.Helper()
	if got, err := netsim.DialCount(n, 1, addr, time.Second); err == nil {
		t.Errorf("%s: dial %s from %s answered %v, want no answer", what, addr, n.NSName, got)
	}
}
