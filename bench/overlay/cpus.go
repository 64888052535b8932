package main

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// placement says on which CPUs the kernel work of the two nodes runs
// during one iperf3 run. On one machine every veth hands a packet to the
// backlog of the CPU that sent it, so without help the sender's CPU does
// the kernel work of both nodes (its own transmit path and the receiving
// node's forwarding, decapsulation and TCP receive); two real nodes each
// do their own on their own CPUs.
type placement int

const (
	// perNode gives each node one CPU, as two machines have: the client
	// runs on the client node's CPU, the server on the server node's, and
	// RPS on each node's eth0 moves what a node receives from the fabric
	// to that node's CPU.
	perNode placement = iota
	// sharedCPU leaves RPS off: the sending CPU does the kernel work of
	// both nodes (client and server still pinned to their CPUs).
	sharedCPU
)

func (p placement) String() string {
	if p == perNode {
		return "one CPU per node"
	}
	return "shared (sender's CPU)"
}

// cpuPair are the CPUs of the client node and of the server node.
type cpuPair struct {
	Client, Server int
	Split          bool // two distinct CPUs: perNode placement possible
}

// pickCPUs takes the first two CPUs this process may run on.
func pickCPUs() (cpuPair, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return cpuPair{}, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for i := 0; i < len(set)*64 && len(cpus) < 2; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	switch len(cpus) {
	case 0:
		return cpuPair{}, fmt.Errorf("sched_getaffinity: no CPU allowed")
	case 1:
		return cpuPair{Client: cpus[0], Server: cpus[0]}, nil
	}
	return cpuPair{Client: cpus[0], Server: cpus[1], Split: true}, nil
}

// cpuMask is the rps_cpus bitmap of one CPU: comma-separated 32-bit hex
// words, most significant first, as the kernel prints and parses it.
func cpuMask(cpu int) string {
	words := make([]string, cpu/32+1)
	for i := range words {
		words[i] = "00000000"
	}
	words[len(words)-1-cpu/32] = fmt.Sprintf("%08x", uint32(1)<<(cpu%32))
	return strings.Join(words, ",")
}

// setRPS writes mask ("0" turns RPS off) to every receive queue of the
// node's eth0. The write runs through `ip netns exec`, which mounts the
// node netns' own sysfs; the script first checks that the sysfs it sees is
// the node's (eth0's ifindex and MAC address, random per veth, match and
// vtep1024 exists), so nothing outside the node can be touched.
func setRPS(ctx context.Context, nd *node, mask string) error {
	l, err := nd.NL.LinkByName(underlayDev)
	if err != nil {
		return fmt.Errorf("rps on %s: %w", nd.Name, err)
	}
	script := fmt.Sprintf(`set -e
d=/sys/class/net/%[1]s
[ "$(cat $d/ifindex)" = "%[2]d" ] && [ "$(cat $d/address)" = "%[6]s" ] && [ -e /sys/class/net/%[3]s ] || { echo "sysfs here is not node %[4]s's" >&2; exit 1; }
for q in $d/queues/rx-*/rps_cpus; do echo %[5]s > "$q"; done`, underlayDev, l.Attrs().Index, vtepName, nd.Name, mask, l.Attrs().HardwareAddr)
	cctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	if out, err := nd.Namespace.Exec(cctx, "sh", "-c", script).CombinedOutput(); err != nil {
		return fmt.Errorf("set rps_cpus %s on %s's %s: %v: %s", mask, nd.Name, underlayDev, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// place applies pl to the client and server nodes of a run.
func place(ctx context.Context, pl placement, cpus cpuPair, client, server *node) error {
	cm, sm := "0", "0"
	if pl == perNode {
		cm, sm = cpuMask(cpus.Client), cpuMask(cpus.Server)
	}
	if err := setRPS(ctx, client, cm); err != nil {
		return err
	}
	return setRPS(ctx, server, sm)
}
