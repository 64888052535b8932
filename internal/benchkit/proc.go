package benchkit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CPUTimes are one CPU's counters from /proc/stat, in clock ticks.
type CPUTimes struct{ Busy, Total uint64 }

// ReadCPUTimes reads the counters of the given CPUs from /proc/stat.
func ReadCPUTimes(cpus ...int) (map[int]CPUTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	return ParseCPUTimes(string(b), cpus...)
}

// ParseCPUTimes reads "cpuN user nice system idle iowait irq softirq steal
// ..." lines; idle and iowait are not busy, steal counts as neither (time
// the hypervisor gave to someone else).
func ParseCPUTimes(stat string, cpus ...int) (map[int]CPUTimes, error) {
	want := map[string]int{}
	for _, c := range cpus {
		want["cpu"+strconv.Itoa(c)] = c
	}
	out := map[int]CPUTimes{}
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
		out[c] = CPUTimes{Busy: busy, Total: busy + idle}
	}
	for _, c := range cpus {
		if _, ok := out[c]; !ok {
			return nil, fmt.Errorf("/proc/stat has no line for cpu%d", c)
		}
	}
	return out, nil
}

// BusyPct is the share of (busy + idle) time that was busy between a and b.
func BusyPct(a, b CPUTimes) float64 {
	if b.Total <= a.Total {
		return 0
	}
	return 100 * float64(b.Busy-a.Busy) / float64(b.Total-a.Total)
}

// Memory is a process's resident set, in bytes, as /proc/<pid>/status
// shows it.
type Memory struct {
	RSS int64 // VmRSS, now
	HWM int64 // VmHWM, the peak
}

// RSSKiB is RSS in KiB.
func (m Memory) RSSKiB() int { return int(m.RSS >> 10) }

// HWMKiB is HWM in KiB.
func (m Memory) HWMKiB() int { return int(m.HWM >> 10) }

// ReadMemory reads VmRSS and VmHWM of process pid.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	return ParseMemory(string(b), pid)
}

// ParseMemory reads the "VmRSS:  123 kB" and "VmHWM:" lines of a
// /proc/<pid>/status; pid is for the error.
func ParseMemory(status string, pid int) (Memory, error) {
	var m Memory
	for _, l := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(l, ":")
		f := strings.Fields(v)
		if !ok || len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			m.RSS = n << 10
		case "VmHWM":
			m.HWM = n << 10
		}
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return m, nil
}
