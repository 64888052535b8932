package cnm

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzRequests: whatever dockerd (or anyone on the socket) sends, every
// method answers 200 or a 500 with a JSON Err, and never panics.
func FuzzRequests(f *testing.F) {
	for _, s := range []string{
		`{"NetworkID":"n","Options":{"com.docker.network.generic":{"VIP_0":"/a:80"}},"IPv4Data":[{"Pool":"9.0.1.0/24"}]}`,
		`{"NetworkID":"n","EndpointID":"e","Interface":{"Address":"9.0.1.2/24"},"Options":{"com.docker.network.portmap":[{"Proto":6,"Port":1,"HostPort":2}]}}`,
		`{"PoolID":"dcnet:dcos:4","Options":{"com.docker.network.endpoint.macaddress":"02:42:00:00:00:01"}}`,
		`{"Pool":"9.0.1.0/24","V6":false}`, `{garbage`, ``, `null`, `[]`, `{"Options":{"com.docker.network.generic":7}}`,
	} {
		f.Add(s)
	}
	e := newEnv(f)
	methods := []string{"NetworkDriver.CreateNetwork", "NetworkDriver.CreateEndpoint", "NetworkDriver.Join", "NetworkDriver.Leave",
		"NetworkDriver.DeleteEndpoint", "NetworkDriver.DeleteNetwork", "IpamDriver.RequestPool", "IpamDriver.ReleasePool",
		"IpamDriver.RequestAddress", "IpamDriver.ReleaseAddress"}
	f.Fuzz(func(t *testing.T, body string) {
		for _, m := range methods {
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+m, bytes.NewReader([]byte(body))))
			if rec.Code == http.StatusOK {
				continue
			}
			var er errorResponse
			if rec.Code != http.StatusInternalServerError || json.Unmarshal(rec.Body.Bytes(), &er) != nil || er.Err == "" {
				t.Fatalf("%s %q: %d %s", m, body, rec.Code, rec.Body.Bytes())
			}
		}
	})
}
