package portmap

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/dcnet/dcnet/internal/netsim"
)

// TestPrivilegedThousandMappings: 500 dual-stack containers with two host
// ports each (tcp, udp, sctp), added by four concurrent plugin processes
// (the state's lock serialises them), give 1,000 mappings in each family's
// table; DEL of all of them, also concurrent, leaves the node's rules as
// they were.
func TestPrivilegedThousandMappings(t *testing.T) {
	netsim.Privileged(t, "nft", "iptables-save")
	cniPath := buildPlugins(t)
	f := netsim.NewFabric(t, "pmapk")
	node, err := f.AddNode("n1")
	if err != nil {
		t.Fatal(err)
	}
	probe, err := node.AddContainer("probe")
	if err != nil {
		t.Fatal(err)
	}
	before := rulesetOf(t, node.Namespace)
	state := t.TempDir()
	const containers, workers = 500, 4
	conf := func(i int) string {
		protos := []string{"tcp", "udp", "sctp"}
		return fmt.Sprintf(`{"cniVersion":"1.1.0","name":"dcos","type":"dcnet-portmap","stateDir":%q,
		  "runtimeConfig":{"portMappings":[{"hostPort":%d,"containerPort":80,"protocol":%q},{"hostPort":%d,"containerPort":81,"protocol":%q}]},
		  "prevResult":{"cniVersion":"1.1.0","ips":[{"address":"9.0.%d.%d/16"},{"address":"fd01:b::%x/80"}]}}`,
			state, 20000+2*i, protos[i%3], 20001+2*i, protos[(i+1)%3], i/250, i%250+2, i+2)
	}
	each := func(command string) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, containers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < containers; i += workers {
					if _, err := cniCall(node, cniPath, "dcnet-portmap", command, fmt.Sprintf("c%03d", i), probe.Path, conf(i)); err != nil {
						errs <- fmt.Errorf("%s c%03d: %w", command, i, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	each("ADD")
	for _, fam := range []string{"ip", "ip6"} {
		out := mustRun(t, node.Namespace, "nft", "list", "map", fam, TableName, mapTargets)
		if n := strings.Count(out, "container_id: "); n != 2*containers {
			t.Errorf("%s %s targets: %d elements, want %d", fam, TableName, n, 2*containers)
		}
	}
	if out := mustRun(t, node.Namespace, "nft", "list", "set", "ip", TableName, DefaultChain); !strings.Contains(out, "sctp . 20003") {
		t.Errorf("no sctp element in set %s:\n%.500s", DefaultChain, out)
	}
	// The same host port again: refused, the holder named.
	_, err = cniCall(node, cniPath, "dcnet-portmap", "ADD", "late", probe.Path, conf(7))
	if err == nil || !strings.Contains(err.Error(), "already mapped by container c007") {
		t.Errorf("ADD of a taken port with 1,000 mappings: %v", err)
	}
	each("DEL")
	wantRulesetUnchanged(t, node.Namespace, before)
}

// TestPrivilegedTwoStates: a second state directory on the same node
// cannot take over the tables (it would wipe the first one's mappings):
// its ADD fails naming the cause, and the first state's mapping stays.
func TestPrivilegedTwoStates(t *testing.T) {
	netsim.Privileged(t, "nft")
	cniPath := buildPlugins(t)
	f := netsim.NewFabric(t, "pmap2s")
	node, err := f.AddNode("n1")
	if err != nil {
		t.Fatal(err)
	}
	probe, err := node.AddContainer("probe")
	if err != nil {
		t.Fatal(err)
	}
	conf := func(state string, port int) string {
		return fmt.Sprintf(`{"cniVersion":"1.1.0","name":"dcos","type":"dcnet-portmap","stateDir":%q,
		  "runtimeConfig":{"portMappings":[{"hostPort":%d,"containerPort":80}]},"prevResult":{"cniVersion":"1.1.0","ips":[{"address":"9.0.1.2/24"}]}}`, state, port)
	}
	a, b := t.TempDir(), t.TempDir()
	if _, err := cniCall(node, cniPath, "dcnet-portmap", "ADD", "c1", probe.Path, conf(a, 8080)); err != nil {
		t.Fatal(err)
	}
	_, err = cniCall(node, cniPath, "dcnet-portmap", "ADD", "c2", probe.Path, conf(b, 8081))
	if err == nil || !strings.Contains(err.Error(), "belongs to another state directory") {
		t.Errorf("ADD from a second state directory: %v, want a refusal", err)
	}
	// A DEL from the second state (it has no record) leaves them too.
	if _, err := cniCall(node, cniPath, "dcnet-portmap", "DEL", "c2", "", conf(b, 8081)); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, node.Namespace, "nft", "list", "table", "ip", TableName); !strings.Contains(out, "tcp . 8080") {
		t.Errorf("the first state's mapping is gone:\n%s", out)
	}
	if _, err := cniCall(node, cniPath, "dcnet-portmap", "DEL", "c1", "", conf(a, 8080)); err != nil {
		t.Fatal(err)
	}
}
