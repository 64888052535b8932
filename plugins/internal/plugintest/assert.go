package plugintest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

// WantCode fails t unless err is a CNI error with code whose message
// contains msg.
func WantCode(t testing.TB, err error, code uint, msg string) {
	t.Helper()
	var e *types.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want a *types.Error with code %d", err, err, code)
	}
	if e.Code != code || !strings.Contains(e.Msg, msg) {
		t.Errorf("got code %d %q, want code %d containing %q", e.Code, e.Msg, code, msg)
	}
}

// Decode parses a JSON document (a plugin's result) into generic values.
func Decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}
