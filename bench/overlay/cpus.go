package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
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

// cpuTimes are one CPU's counters from /proc/stat, in clock ticks.
type cpuTimes struct{ Busy, Total uint64 }

// readCPUTimes reads the counters of the given CPUs from /proc/stat.
func readCPUTimes(cpus ...int) (map[int]cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	return parseCPUTimes(string(b), cpus...)
}

// parseCPUTimes reads "cpuN user nice system idle iowait irq softirq steal
// ..." lines; idle and iowait are not busy, steal counts as neither (time
// the hypervisor gave to someone else).
func parseCPUTimes(stat string, cpus ...int) (map[int]cpuTimes, error) {
	want := map[string]int{}
	for _, c := range cpus {
		want["cpu"+strconv.Itoa(c)] = c
	}
	out := map[int]cpuTimes{}
	for _, line := range strings.Split(stat, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 {
			continue
		}
		c, ok := want[f[0]]
		if !ok {
			continue
		}
		var v [8]uint64
		for i := range v {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("/proc/stat %s: %w", f[0], err)
			}
			v[i] = n
		}
		idle := v[3] + v[4]
		busy := v[0] + v[1] + v[2] + v[5] + v[6]
		out[c] = cpuTimes{Busy: busy, Total: busy + idle}
	}
	for _, c := range cpus {
		if _, ok := out[c]; !ok {
			return nil, fmt.Errorf("/proc/stat has no line for cpu%d", c)
		}
	}
	return out, nil
}

// busyPct is the share of (busy + idle) time that was busy between a and b.
func busyPct(a, b cpuTimes) float64 {
	if b.Total <= a.Total {
		return 0
	}
	return 100 * float64(b.Busy-a.Busy) / float64(b.Total-a.Total)
}
