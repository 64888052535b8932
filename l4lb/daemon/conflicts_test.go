package daemon

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/l4lb/vip"
)

// TestRefuseHeld: an IP VIP on a named VIP's address is refused whatever
// its port, the named VIP and IP VIPs elsewhere stay; a refusal is new
// once and keeps its first time.
func TestRefuseHeld(t *testing.T) {
	a := netip.MustParseAddr
	held := a("11.0.0.37")
	b := vip.Backend{IP: a("9.0.1.2"), Port: 80, Healthy: true}
	named := Service{Key: vip.Key{Protocol: vip.ProtoTCP, Name: webName, Port: 80}, Addr: held, Backends: []vip.Backend{b}, All: []vip.Backend{b}}
	hijack := Service{Key: vip.Key{Protocol: vip.ProtoTCP, IP: held, Port: 80}, Addr: held, Backends: []vip.Backend{b}, All: []vip.Backend{b}}
	otherPort := Service{Key: vip.Key{Protocol: vip.ProtoUDP, IP: held, Port: 53}, Addr: held, Backends: []vip.Backend{b}, All: []vip.Backend{b}}
	free := Service{Key: vip.Key{Protocol: vip.ProtoTCP, IP: a("11.0.0.38"), Port: 80}, Addr: a("11.0.0.38"), Backends: []vip.Backend{b}}
	kept, refused := refuseHeld([]Service{hijack, named, otherPort, free}, map[netip.Addr]string{held: webName})
	if len(kept) != 2 || kept[0].Key != named.Key || kept[1].Key != free.Key {
		t.Errorf("kept %s", render(kept))
	}
	if len(refused) != 2 || refused[0].HeldBy != webName || refused[0].Key != hijack.Key || refused[1].Key != otherPort.Key {
		t.Errorf("refused %+v", refused)
	}
	c := newConflicts()
	t0 := time.Unix(1000, 0)
	stamped, fresh := c.track(refused, t0)
	if len(fresh) != 2 || !stamped[0].Since.Equal(t0) {
		t.Fatalf("first track: fresh %d, since %v", len(fresh), stamped[0].Since)
	}
	stamped, fresh = c.track(refused[:1], t0.Add(time.Minute))
	if len(fresh) != 0 || len(stamped) != 1 || !stamped[0].Since.Equal(t0) {
		t.Errorf("second track: fresh %v, stamped %+v", fresh, stamped)
	}
	if _, fresh = c.track(refused, t0.Add(2*time.Minute)); len(fresh) != 1 {
		t.Errorf("a refusal that ended and came back is new again: fresh %v", fresh)
	}
}

// TestComputeRefusesHijack: with a named VIP's allocation in the store, a
// container labelled with its address as an IP VIP is refused: the named
// VIP keeps its backend and stays named, the refusal is in /v1/dcnet/vips
// and the vips_refused gauge, and the IP VIP is not in /v1/vips.
func TestComputeRefusesHijack(t *testing.T) {
	d := offlineDaemon(t)
	held := netip.MustParseAddr("11.0.0.37")
	d.vips.Reset([]cluster.Change{
		{Key: cluster.VIPNamePrefix + "ip/" + webName, Value: []byte(held.String())},
		{Key: cluster.VIPAddrPrefix + held.String(), Value: []byte("ip/" + webName)},
	})
	putEndpoint(d, ep("a1", "web", map[string]string{"VIP_0": "/web:80"}, "9.0.1.2/24"))
	putEndpoint(d, ep("a1", "thief", map[string]string{"VIP_0": "11.0.0.37:80"}, "9.0.1.3/24"))
	c := d.compute(t.Context())
	if got := render(c.services); got != "11.0.0.37 tcp 80 "+webName+" -> 9.0.1.2:80\n" {
		t.Errorf("services:\n%s", got)
	}
	d.services, d.refused = c.services, c.refused
	det := d.Details()
	if len(det.Refused) != 1 || det.Refused[0].HeldBy != webName || det.Refused[0].VIP != "11.0.0.37:80" ||
		len(det.Refused[0].Backends) != 1 || det.Refused[0].Backends[0].IP != "9.0.1.3" {
		t.Errorf("details refused %+v", det.Refused)
	}
	if vs := d.VIPs(); len(vs) != 1 || vs[0].VIP != webName+":80" {
		t.Errorf("/v1/vips %+v", vs)
	}
	d.metrics.programmed(c.services, len(c.refused))
	if m := metricsText(t, d); !containsLine(m, "dcnet_l4lb_vips_refused 1") {
		t.Errorf("metrics lack dcnet_l4lb_vips_refused 1:\n%s", m)
	}
}

// TestDCOSVIPs checks /v1/vips against dcos-net's handler and DC/OS's
// test_l4lb: one entry per protocol, name (or IP) and port with the port
// in the vip string, a named VIP's IPv4 and IPv6 backends in one entry,
// IPv6 IP VIPs unbracketed, backends with ip and port only; test_l4lb's
// selection finds exactly the five backends.
func TestDCOSVIPs(t *testing.T) {
	d := offlineDaemon(t)
	a := netip.MustParseAddr
	be := func(ip string, port uint16) vip.Backend {
		return vip.Backend{IP: a(ip), Port: port, Healthy: true, Node: "a1"}
	}
	const l4lbtest = "l4lbtest.marathon.l4lb.thisdcos.directory"
	var five []vip.Backend
	for i, ip := range []string{"198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.2", "198.18.0.1"} {
		five = append(five, be(ip, uint16(31000+i)))
	}
	web4, web6 := []vip.Backend{be("9.0.1.2", 80)}, []vip.Backend{be("fd01:b::1:0:2", 80)}
	d.services = []Service{
		{Key: vip.Key{Protocol: "tcp", Name: l4lbtest, Port: 5000}, Addr: a("11.1.2.3"), Backends: five, All: five},
		{Key: vip.Key{Protocol: "tcp", Name: webName, Port: 80}, Addr: a("11.4.5.6"), Backends: web4, All: web4},
		{Key: vip.Key{Protocol: "tcp", Name: webName, Port: 80}, Addr: a("fd01:c::9"), Backends: web6, All: web6},
		{Key: vip.Key{Protocol: "udp", IP: a("fd01:c::1"), Port: 10053}, Addr: a("fd01:c::1"), Backends: web6, All: web6},
		{Key: vip.Key{Protocol: "tcp", IP: a("1.1.1.7"), Port: 10001}, Addr: a("1.1.1.7"), Rejecting: true},
	}
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", l4lbapi.PathVIPs, nil))
	if rec.Code != http.StatusOK || rec.Header().Get("ETag") == "" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/vips: %d, headers %v", rec.Code, rec.Header())
	}
	// Decoded generically, as DC/OS's Python test does.
	var vips []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &vips); err != nil {
		t.Fatal(err)
	}
	want := `[{"backend":[{"ip":"fd01:b::1:0:2","port":80}],"protocol":"udp","vip":"fd01:c::1:10053"},` +
		`{"backend":[{"ip":"198.18.0.1","port":31000},{"ip":"198.18.0.1","port":31004},{"ip":"198.18.0.2","port":31001},` +
		`{"ip":"198.18.0.2","port":31003},{"ip":"198.18.0.3","port":31002}],"protocol":"tcp","vip":"l4lbtest.marathon.l4lb.thisdcos.directory:5000"},` +
		`{"backend":[{"ip":"9.0.1.2","port":80},{"ip":"fd01:b::1:0:2","port":80}],"protocol":"tcp","vip":"web.marathon.l4lb.thisdcos.directory:80"}]`
	if got, _ := json.Marshal(vips); string(got) != want {
		t.Errorf("/v1/vips:\n%s\nwant\n%s", got, want)
	}
	// test_l4lb: [vip] = [vip for vip in vips if vip['vip'] == dnsname and
	// vip['protocol'] == 'tcp'], then each backend removed from the list
	// of {'port': sp.port, 'ip': sp.host} leaves it empty.
	var sel []map[string]any
	for _, v := range vips {
		if v["vip"] == l4lbtest+":5000" && v["protocol"] == "tcp" {
			sel = append(sel, v)
		}
	}
	if len(sel) != 1 {
		t.Fatalf("test_l4lb selects %d VIPs, want 1", len(sel))
	}
	var backends []map[string]any
	for _, b := range five {
		backends = append(backends, map[string]any{"port": float64(b.Port), "ip": b.IP.String()})
	}
	for _, b := range sel[0]["backend"].([]any) {
		i := slices.IndexFunc(backends, func(m map[string]any) bool { return equalJSON(m, b) })
		if i < 0 {
			t.Fatalf("backend %v not among the test's %v", b, backends)
		}
		backends = slices.Delete(backends, i, i+1)
	}
	if len(backends) != 0 {
		t.Errorf("backends not listed: %v", backends)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// offlineDaemon is a daemon whose store is never reached (the caches are
// fed by hand) and whose caches count as synced.
func offlineDaemon(t *testing.T) *Daemon {
	t.Helper()
	store, err := cluster.Connect(cluster.Options{Endpoints: []string{"http://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	d, err := New(Options{Store: store, Kernel: dataplane.NewFake(), Node: "a1", SyncInterval: time.Second, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	d.endpoints.Reset(nil)
	d.mesos.Reset(nil)
	d.alive.Reset([]cluster.Change{{Key: cluster.AliveKey("a1"), Value: []byte(`{"node":"a1"}`)}})
	d.vips.Reset(nil)
	return d
}

var endpointRev int64

// putEndpoint feeds an endpoint record to d's endpoint cache.
func putEndpoint(d *Daemon, e cluster.Endpoint) {
	b, _ := json.Marshal(e)
	endpointRev++
	d.endpoints.Update([]cluster.Change{{Key: cluster.EndpointKey(e.Node, e.Network, e.ContainerID, e.IfName), Value: b, Rev: endpointRev}})
}

func metricsText(t *testing.T, d *Daemon) string {
	t.Helper()
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", l4lbapi.PathMetrics, nil))
	return rec.Body.String()
}

func containsLine(text, line string) bool {
	return slices.Contains(splitLines(text), line)
}

func splitLines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		out = append(out, l)
	}
	return out
}
