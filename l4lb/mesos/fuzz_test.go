package mesos

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzGetState feeds arbitrary GET_STATE answers and event streams through
// decoding and extraction: no panic, and every binding is well-formed.
func FuzzGetState(f *testing.F) {
	f.Add([]byte(killingState))
	if matches, _ := filepath.Glob("../../../shared/fixtures/mesos/operator-api/*.json"); len(matches) > 0 {
		for _, m := range matches {
			if data, err := os.ReadFile(m); err == nil {
				f.Add(data)
			}
		}
	}
	agent := netip.MustParseAddr("198.18.0.9")
	f.Fuzz(func(t *testing.T, data []byte) {
		var states []*GetState
		if st, err := Decode(data); err == nil {
			states = append(states, st)
		}
		if st, err := Replay(bytes.NewReader(data)); err == nil {
			states = append(states, st)
		}
		for _, st := range states {
			bs, _ := Backends(st, agent, nil)
			for _, b := range bs {
				if b.VIP.Port == 0 || b.Backend.Port == 0 || !b.Backend.IP.IsValid() {
					t.Fatalf("malformed binding %v", b)
				}
			}
		}
	})
}
