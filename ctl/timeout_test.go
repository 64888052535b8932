package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

// TestTimeoutZeroIsDefault: --timeout 0 means the default timeout (as a
// zero duration does in every dcnet flag), not a deadline already past;
// a negative one is a usage error.
func TestTimeoutZeroIsDefault(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(l4lbapi.Details{})
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"--timeout", "0", "--l4lb", addr, "vips"}, &out, &errb); code != 0 {
		t.Errorf("--timeout 0: exit %d, %s", code, errb.String())
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"--timeout", "-1s", "--l4lb", addr, "vips"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "--timeout -1s: must not be negative (0: the default 10s)") {
		t.Errorf("--timeout -1s: exit %d, %q", code, errb.String())
	}
}
