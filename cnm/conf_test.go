package cnm

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestShippedInstallFiles loads conf/dcnet.json (dockerd's spec file format)
// and checks that the unit starts dcnet-cnm on the socket the spec names,
// before dockerd.
func TestShippedInstallFiles(t *testing.T) {
	b, err := os.ReadFile("../conf/dcnet.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct{ Name, Addr string }
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil || spec.Name != "dcnet" || !strings.HasPrefix(spec.Addr, "unix://") {
		t.Fatalf("conf/dcnet.json: %v %+v", err, spec)
	}
	unit, err := os.ReadFile("../conf/dcnet-cnm.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Before=docker.service", "--socket " + strings.TrimPrefix(spec.Addr, "unix://"), "--state-dir", "ExecStart=/usr/local/bin/dcnet-cnm"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("conf/dcnet-cnm.service lacks %q", want)
		}
	}
}
