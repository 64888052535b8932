package mesos

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"leader":"master@10.0.0.1:5050","slaves":[{"id":"a-S0","pid":"slave(1)@10.0.0.2:5051"}]}`))
	f.Add([]byte(`{"frameworks":[{"name":"m","tasks":[{"state":"TASK_RUNNING","resources":{"ports":"[1-2, 5-5]"},"statuses":[{"state":"TASK_RUNNING","timestamp":1,"container_status":{"network_infos":[{"ip_addresses":[{"ip_address":"fd01::1"}]}]}}]}]}]}`))
	f.Add([]byte(`{} trailing`))
	f.Add([]byte(``))
	if dir, err := os.Getwd(); err == nil {
		// Seed with the real fixture when it sits beside the repository.
		if b, err := os.ReadFile(filepath.Join(dir, "..", "..", "..", "shared", "fixtures", "mesos", "master-state.json")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		st, err := ParseState(bytes.NewReader(doc))
		if err != nil {
			return
		}
		// Everything derived from a parsed state must be safe to compute.
		_, _ = ParsePID(st.Leader)
		for _, a := range st.Agents {
			_, _ = ParsePID(a.PID)
		}
		for _, fw := range st.Frameworks {
			for _, task := range fw.Tasks {
				_ = task.Running()
				_ = task.MapsHostPort()
				if s, ok := task.LatestRunningStatus(); ok {
					_ = s.NetworkIPs()
				}
				if ports, err := task.Resources.PortList(); err == nil && len(ports) > maxPortsPerTask {
					t.Fatalf("PortList returned %d ports, limit %d", len(ports), maxPortsPerTask)
				}
			}
		}
	})
}
