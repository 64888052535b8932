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
