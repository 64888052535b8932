package l7lbapi

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzParsePool: any input either parses into a pool whose stored form
// parses back to the same pool, or fails with a *ValidationError that
// names at least one problem; it never panics.
func FuzzParsePool(f *testing.F) {
	f.Add([]byte(minimal))
	if data, err := os.ReadFile("../../conf/l7lb/pool-web.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("name: x\nhaproxy: {frontends: [{bindPort: 1}], backends: []}\n"))
	f.Add([]byte(`{"name":"a","haproxy":{"frontends":[null],"backends":[{"services":[{"endpoint":null}]}]}}`))
	f.Add([]byte("- 1\n- 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, err := ParsePool(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("error %v is not a *ValidationError with fields", err)
			}
			return
		}
		stored, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back, _, err := ParsePool(stored)
		if err != nil {
			t.Fatalf("stored form of a valid pool is invalid: %v\n%s", err, stored)
		}
		if !reflect.DeepEqual(p, back) {
			t.Fatalf("round trip changed the pool:\n%+v\n%+v", p, back)
		}
	})
}
