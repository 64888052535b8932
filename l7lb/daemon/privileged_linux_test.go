package daemon

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/eventually"
	"github.com/dcnet/dcnet/internal/haproxytest"
	"github.com/dcnet/dcnet/internal/marathontest"
	"github.com/dcnet/dcnet/l7lb/build"
)

// prefix is this package's netsim fabric prefix.
const prefix = "l7dm"

// TestPrivilegedMarathonLBThroughHAProxy: the whole path with Debian's
// HAProxy 2.6 in a namespace: a fake Marathon's app with a vhost label
// is served on :80 (Host) and on its service port; scaling 1 -> 2 adds
// the second task without a reload; scaling back drains the killed task
// (TASK_KILLING first) with no failed request; a bad app is reported and
// the rest served.
func TestPrivilegedMarathonLBThroughHAProxy(t *testing.T) {
	r := haproxytest.NewRig(t, prefix, haproxytest.RigOptions{Apps: 2, NoRun: true})
	app1, app2 := r.Apps[0], r.Apps[1]
	names := map[string]bool{}
	for i, n := range r.Apps {
		name := fmt.Sprintf("web-%d", i+1)
		haproxytest.ServeHTTP(t, n.Namespace, netip.AddrPortFrom(n.UnderlayIP, 8001), name)
		names[name] = true
	}
	m := marathontest.ForTest(t)
	m.Hosts = []string{app1.UnderlayIP.String(), app2.UnderlayIP.String()}
	// /bad's task is placed first: /web's tasks then land on app1, app2.
	m.PutApp(marathontest.AppSpec{ID: "/bad", ServicePorts: []int{10001}, TaskPorts: []int{8001}, Instances: 1,
		Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_MODE": "udp"}})
	m.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, TaskPorts: []int{8001}, Instances: 1,
		Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "web.example"}})
	o := build.DefaultMarathonLB()
	o.HTTPS = netip.AddrPort{}
	d, err := New(Options{MarathonLB: o, Marathon: marathonSource(t, m), Applier: r.Applier,
		SyncInterval: time.Second, StaleAfter: time.Minute, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d)
	c := r.HTTPClient(nil)
	vhost := fmt.Sprintf("http://%s/", r.LBAddr(80))
	seen := func(url, host string, n int) map[string]int {
		got := map[string]int{}
		for range n {
			code, body, err := r.Get(c, url, host)
			if err != nil || code != http.StatusOK {
				got[fmt.Sprintf("error %d %v", code, err)]++
				continue
			}
			got[body]++
		}
		return got
	}
	eventually.True(t, 30*time.Second, "the vhost served", func() bool { code, _, _ := r.Get(c, vhost, "web.example"); return code == 200 })
	eventually.True(t, 10*time.Second, "the first apply done", func() bool { return d.Status().Applies > 0 })
	if got := seen(fmt.Sprintf("http://%s/", r.LBAddr(10000)), "", 3); len(got) != 1 || !names[firstKey(got)] {
		t.Errorf("service port 10000: %v", got)
	}
	if code, _, _ := r.Get(c, vhost, "other.example"); code != http.StatusServiceUnavailable {
		t.Errorf("unknown vhost answered %d, want 503", code)
	}
	if st := d.Status(); len(st.Problems) != 1 || st.Problems[0].Name != "/bad" {
		t.Errorf("problems %+v, want /bad only (applies %d, last apply error %q)\n%s", st.Problems, st.Applies, st.LastApplyError, Describe(d.Config()))
	}
	reloads := r.Applier.Stats().Reloads

	m.Scale("/web", 2, 0)
	eventually.True(t, 20*time.Second, "both tasks answer", func() bool { return len(seen(vhost, "web.example", 6)) == 2 })
	if got := r.Applier.Stats().Reloads; got != reloads {
		t.Errorf("scale-up reloaded HAProxy: %d reloads, was %d", got, reloads)
	}

	// Scale down: the killed task goes TASK_KILLING (drained) 2 s before
	// it is gone; requests meanwhile all succeed.
	m.Scale("/web", 1, 2*time.Second)
	deadline := time.Now().Add(4 * time.Second)
	failed, total := 0, 0
	for time.Now().Before(deadline) {
		for k, n := range seen(vhost, "web.example", 5) {
			total += n
			if strings.HasPrefix(k, "error") {
				failed += n
			}
		}
	}
	if failed != 0 {
		t.Errorf("%d of %d requests failed during the scale-down", failed, total)
	}
	eventually.True(t, 20*time.Second, "one task left", func() bool { return len(seen(vhost, "web.example", 6)) == 1 })
	if got := r.Applier.Stats().Reloads; got != reloads {
		t.Errorf("scale-down reloaded HAProxy: %d reloads, was %d", got, reloads)
	}
}

func firstKey(m map[string]int) string {
	for k := range m {
		return k
	}
	return ""
}
