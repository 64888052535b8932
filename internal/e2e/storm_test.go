package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
)

const stormSize = 200

// stormContainers makes n empty container namespaces on the node.
func stormContainers(t *testing.T, nd *node, n int) []*netsim.Container {
	t.Helper()
	out := make([]*netsim.Container, n)
	for i := range out {
		c, err := nd.AddContainer(fmt.Sprintf("s%d", i))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = c
	}
	return out
}

// runStorm runs one plugin process per container at once and returns each
// process's result.
func runStorm(nd *node, ctrs []*netsim.Container, command, conf string) []pluginResult {
	res := make([]pluginResult, len(ctrs))
	var wg sync.WaitGroup
	for i, c := range ctrs {
		wg.Add(1)
		go func(i int, c *netsim.Container) {
			defer wg.Done()
			res[i] = nd.execPlugin("dcnet", command, "storm-"+c.Name, c.Path, "eth0", conf)
		}(i, c)
	}
	wg.Wait()
	return res
}

// assertDistinct fails when two leases share an address.
func assertDistinct(t *testing.T, leases []api.Attachment) {
	t.Helper()
	seen := map[string]string{}
	for _, a := range leases {
		for _, ip := range a.IPs {
			if other, dup := seen[ip.Address]; dup {
				t.Fatalf("address %s held by %s and %s", ip.Address, other, a.ContainerID)
			}
			seen[ip.Address] = a.ContainerID
		}
	}
}

// TestPrivilegedStorm: 200 ADDs as parallel processes get 200 distinct
// addresses; DEL of all leaves zero allocations and no host veth.
func TestPrivilegedStorm(t *testing.T) {
	_, nd := setup(t, "estorm", "")
	ctrs := stormContainers(t, nd, stormSize)
	conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"dcos","type":"dcnet","socket":%q}`, nd.socket)
	for i, r := range runStorm(nd, ctrs, "ADD", conf) {
		if r.ExitCode != 0 {
			t.Fatalf("ADD %d: exit %d\n%s%s", i, r.ExitCode, r.Stdout, r.Stderr)
		}
	}
	leases := nd.leases()
	if len(leases) != stormSize {
		t.Fatalf("%d leases after %d ADDs", len(leases), stormSize)
	}
	assertDistinct(t, leases)
	if p := nd.bridgePorts("m-dcos"); len(p) != stormSize {
		t.Fatalf("%d ports on m-dcos, want %d", len(p), stormSize)
	}
	for i, r := range runStorm(nd, ctrs, "DEL", conf) {
		if r.ExitCode != 0 {
			t.Fatalf("DEL %d: exit %d\n%s%s", i, r.ExitCode, r.Stdout, r.Stderr)
		}
	}
	if n := len(nd.leases()); n != 0 {
		t.Fatalf("%d leases after DEL of all", n)
	}
	if p := nd.bridgePorts("m-dcos"); len(p) != 0 {
		t.Fatalf("ports left on m-dcos: %v", p)
	}
}

// TestPrivilegedKillDuringStorm: overlayd is killed with SIGKILL in the
// middle of 200 parallel ADDs and restarted. ADDs that failed say "try again
// later" (code 11); retried after the restart they succeed. No address is
// ever held twice, and GC with the list of live containers leaves exactly
// one lease per container: nothing leaks.
func TestPrivilegedKillDuringStorm(t *testing.T) {
	_, nd := setup(t, "ekill", "")
	ctrs := stormContainers(t, nd, stormSize)
	conf := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"dcos","type":"dcnet","socket":%q}`, nd.socket)

	var done atomic.Int32
	res := make([]pluginResult, len(ctrs))
	var wg sync.WaitGroup
	for i, c := range ctrs {
		wg.Add(1)
		go func(i int, c *netsim.Container) {
			defer wg.Done()
			res[i] = nd.execPlugin("dcnet", "ADD", "storm-"+c.Name, c.Path, "eth0", conf)
			done.Add(1)
		}(i, c)
	}
	// Kill once some, but far from all, addresses are allocated.
	var allocated int
	if err := netsim.WaitFor(context.Background(), 60*time.Second, time.Millisecond, func() error {
		st, err := nd.client.Status(context.Background())
		if err != nil || st.Attachments < stormSize/8 {
			return fmt.Errorf("%d allocated (%v)", st.Attachments, err)
		}
		allocated = st.Attachments
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := nd.od.Proc.Kill9(); err != nil {
		t.Fatal(err)
	}
	killedAt := done.Load()
	wg.Wait()
	nd.start()

	failed := 0
	for i, r := range res {
		if r.ExitCode == 0 {
			continue
		}
		failed++
		if code, msg, ok := r.cniError(); !ok || code != 11 {
			t.Fatalf("ADD %d failed without a try-again-later error: exit %d code %d %q\n%s", i, r.ExitCode, code, msg, r.Stderr)
		}
	}
	t.Logf("killed with %d addresses allocated and %d of %d ADDs finished; %d failed with code 11", allocated, killedAt, stormSize, failed)
	if failed == 0 {
		t.Fatal("no ADD failed: the kill did not land in the middle of the storm")
	}
	assertDistinct(t, nd.leases())

	// The runtime retries the failed ADDs.
	for i, r := range res {
		if r.ExitCode == 0 {
			continue
		}
		res[i] = nd.execPlugin("dcnet", "ADD", "storm-"+ctrs[i].Name, ctrs[i].Path, "eth0", conf)
		if res[i].ExitCode != 0 {
			t.Fatalf("retried ADD %d: %s %s", i, res[i].Stdout, res[i].Stderr)
		}
	}
	// GC with the containers that really exist: nothing else may stay.
	valid := make([]string, 0, len(ctrs))
	for _, c := range ctrs {
		valid = append(valid, fmt.Sprintf(`{"containerID":"storm-%s","ifname":"eth0"}`, c.Name))
	}
	gcConf := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"dcos","type":"dcnet","socket":%q,"cni.dev/valid-attachments":[%s]}`,
		nd.socket, strings.Join(valid, ","))
	if r := nd.execPlugin("dcnet", "GC", "", "", "", gcConf); r.ExitCode != 0 {
		t.Fatalf("GC: %s %s", r.Stdout, r.Stderr)
	}
	leases := nd.leases()
	assertDistinct(t, leases)
	if len(leases) != stormSize {
		t.Fatalf("%d leases for %d containers after GC", len(leases), stormSize)
	}
	// Every container holds the address overlayd has for it.
	byID := map[string]string{}
	for _, a := range leases {
		byID[a.ContainerID] = strings.Split(a.IPs[0].Address, "/")[0]
	}
	for _, c := range ctrs[:10] {
		out, err := c.Run(context.Background(), "ip", "-4", "-o", "addr", "show", "dev", "eth0")
		if err != nil || !strings.Contains(out, byID["storm-"+c.Name]+"/") {
			t.Fatalf("container %s has %q, overlayd says %s", c.Name, out, byID["storm-"+c.Name])
		}
	}
}

// TestPrivilegedKillWithTraffic: with overlayd killed, running containers
// keep talking; after the restart their allocations are unchanged and they
// still talk.
func TestPrivilegedKillWithTraffic(t *testing.T) {
	_, nd := setup(t, "etraf", "")
	a, err := nd.AddContainer("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := nd.AddContainer("b")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*netsim.Container{a, b} {
		if out, err := nd.cnitool("add", "dcos", c.Path); err != nil {
			t.Fatalf("add: %v %s", err, out)
		}
	}
	before := nd.leases()
	bIP := strings.Split(before[0].IPs[0].Address, "/")[0]
	if before[0].ContainerID == before[1].ContainerID {
		t.Fatal("two leases expected")
	}
	// Find b's address.
	out, _ := b.Run(context.Background(), "ip", "-4", "-o", "addr", "show", "dev", "eth0")
	for _, l := range before {
		ip := strings.Split(l.IPs[0].Address, "/")[0]
		if strings.Contains(out, ip+"/") {
			bIP = ip
		}
	}
	// A TCP echo server in b, a long-lived connection from a.
	var ln net.Listener
	if err := b.Do(func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(bIP, "7000"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					c.Write(buf[:n])
				}
			}()
		}
	}()
	var conn net.Conn
	if err := a.Do(func(ns.NetNS) error {
		var err error
		conn, err = net.DialTimeout("tcp", net.JoinHostPort(bIP, "7000"), 3*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	echo := func(what string) {
		t.Helper()
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := conn.Write([]byte("ping\n")); err != nil {
			t.Fatalf("%s: write: %v", what, err)
		}
		buf := make([]byte, 5)
		if _, err := conn.Read(buf); err != nil || string(buf) != "ping\n" {
			t.Fatalf("%s: echo: %q %v", what, buf, err)
		}
		if err := ping(a.Namespace, bIP); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	echo("before the kill")
	if err := nd.od.Proc.Kill9(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		echo(fmt.Sprintf("overlayd down, round %d", i))
		time.Sleep(100 * time.Millisecond)
	}
	nd.start()
	echo("after the restart")
	after := nd.leases()
	if len(after) != len(before) {
		t.Fatalf("leases changed over the restart: %+v -> %+v", before, after)
	}
	for i := range before {
		if before[i].ContainerID != after[i].ContainerID || before[i].IPs[0] != after[i].IPs[0] {
			t.Fatalf("lease changed over the restart: %+v -> %+v", before[i], after[i])
		}
	}
}

// writeFile writes a file in dir and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
