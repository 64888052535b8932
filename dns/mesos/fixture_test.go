package mesos

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dcnet/dcnet/internal/fixtures"
)

// fixtureDir returns the fixtures directory, skipping t when it is absent.
func fixtureDir(t testing.TB) string { return fixtures.Dir(t, "mesos") }

func TestParseStateFixture(t *testing.T) {
	f, err := os.Open(filepath.Join(fixtureDir(t), "master-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := ParseState(f)
	if err != nil {
		t.Fatalf("ParseState(master-state.json): %v", err)
	}
	if st.Leader != "master@1.2.3.4:5050" {
		t.Errorf("leader = %q, want master@1.2.3.4:5050", st.Leader)
	}
	if len(st.Agents) != 4 || len(st.Frameworks) != 4 {
		t.Fatalf("got %d agents and %d frameworks, want 4 and 4", len(st.Agents), len(st.Frameworks))
	}
	var tasks, running int
	for _, fw := range st.Frameworks {
		for _, task := range fw.Tasks {
			tasks++
			if task.Running() {
				running++
			}
		}
	}
	if tasks != 10 || running != 9 {
		t.Errorf("got %d tasks, %d running; want 10, 9 (poseidon is TASK_KILLED)", tasks, running)
	}
	p, err := ParsePID(st.Agents[3].PID)
	if err != nil || p.Host != "2001:db8::1" || p.Port != 5051 {
		t.Errorf("ParsePID(%q) = %+v, %v", st.Agents[3].PID, p, err)
	}
}
