package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestDoctorCommand: dcnetctl doctor on a node where nothing runs reports
// overlayd and the store as failed, skips the rest, and exits 1; bad
// usage exits 2.
func TestDoctorCommand(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "overlayd.sock")
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"--socket", sock, "--l4lb", "", "--dns", "", "doctor"}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"FAIL overlayd: status", "error: overlayd at " + sock, "see:  dcnetctl --socket " + sock + " status",
		"FAIL etcd: reachable", "pass --etcd-endpoints", "SKIP dcnet-l4lb: reachable: not on this node", "2 of 2 checks failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := Main(context.Background(), []string{"--socket", sock, "-o", "json", "--l4lb", "", "--dns", "", "doctor"}, &out, &errb); code != 1 {
		t.Errorf("json: exit %d", code)
	}
	var rep struct {
		OK      bool
		Failed  int
		Skipped int
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.OK || rep.Failed != 2 || rep.Skipped == 0 {
		t.Errorf("json report %+v (%v):\n%s", rep, err, out.String())
	}
	if code := Main(context.Background(), []string{"doctor", "extra"}, &out, &errb); code != 2 {
		t.Errorf("doctor with an argument: exit %d, want 2", code)
	}
}
