package benchkit

import "testing"

func TestParseCPUTimes(t *testing.T) {
	stat := "cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 5 1 4 50 10 2 3 7 0 0\ncpu1 5 0 6 50 0 0 0 0 0 0\nintr 1 2\n"
	got, err := ParseCPUTimes(stat, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	// cpu0: busy user+nice+system+irq+softirq = 15, idle+iowait = 60; steal (7) in neither.
	if got[0] != (CPUTimes{Busy: 15, Total: 75}) || got[1] != (CPUTimes{Busy: 11, Total: 61}) {
		t.Errorf("ParseCPUTimes = %+v", got)
	}
	if _, err := ParseCPUTimes(stat, 2); err == nil {
		t.Error("ParseCPUTimes for a missing cpu2: no error")
	}
	if p := BusyPct(CPUTimes{Busy: 10, Total: 100}, CPUTimes{Busy: 40, Total: 140}); p != 75 {
		t.Errorf("BusyPct = %v, want 75", p)
	}
}

func TestParseMemory(t *testing.T) {
	m, err := ParseMemory("Name:\toverlayd\nVmHWM:\t   41320 kB\nVmRSS:\t   40100 kB\nThreads:\t9\n", 7)
	if err != nil || m.RSSKiB() != 40100 || m.HWMKiB() != 41320 || m.RSS != 40100*1024 {
		t.Errorf("ParseMemory = %+v, %v", m, err)
	}
	if _, err := ParseMemory("Name:\tzombie\n", 7); err == nil {
		t.Error("no VmRSS: no error")
	}
}
