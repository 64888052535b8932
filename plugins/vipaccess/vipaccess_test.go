package vipaccess

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"
)

// fakeExec stands in for the delegate and host-local binaries: it
// records every call ("ADD bridge", "DEL host-local") and answers ADD with
// canned results.
type fakeExec struct {
	calls   []string
	confs   map[string][]byte
	fail    map[string]error
	results map[string]string
}

func (f *fakeExec) ExecPlugin(_ context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	plugin := strings.TrimPrefix(path, "/fake/")
	cmd := ""
	for _, e := range environ {
		if v, ok := strings.CutPrefix(e, "CNI_COMMAND="); ok {
			cmd = v
		}
	}
	f.calls = append(f.calls, cmd+" "+plugin)
	f.confs[cmd+" "+plugin] = stdin
	if err := f.fail[cmd+" "+plugin]; err != nil {
		return nil, err
	}
	if cmd == "ADD" {
		return []byte(f.results[plugin]), nil
	}
	return nil, nil
}

func (f *fakeExec) FindInPath(plugin string, _ []string) (string, error) {
	return "/fake/" + plugin, nil
}

func (f *fakeExec) Decode(b []byte) (version.PluginInfo, error) {
	return version.PluginSupports("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"), nil
}

func newTest(t *testing.T) (*Plugin, *FakeKernel, *fakeExec, *bytes.Buffer) {
	t.Setenv("CNI_PATH", "/fake")
	k := &FakeKernel{}
	x := &fakeExec{confs: map[string][]byte{}, fail: map[string]error{}, results: map[string]string{
		"bridge":     `{"cniVersion":"0.2.0","ip4":{"ip":"192.168.250.5/24","gateway":"192.168.250.1"},"dns":{}}`,
		"host-local": `{"cniVersion":"1.0.0","ips":[{"address":"198.51.100.10/24","gateway":"198.51.100.1"}]}`,
	}}
	out := &bytes.Buffer{}
	return &Plugin{Kernel: k, Exec: x, Stdout: out}, k, x, out
}

// spartanNet is DC/OS's test_dcos_cni_l4lb network with dcnet's plugin.
const spartanNet = `{"cniVersion":"0.2.0","name":"spartan-net","type":"dcnet-vipaccess",
  "args":{"org.apache.mesos":{"network_info":{"name":"spartan-net"}}},
  "delegate":{"type":"bridge","bridge":"sprt-cni0","ipMasq":true,"isGateway":true,
    "ipam":{"type":"host-local","subnet":"192.168.250.0/24","routes":[{"dst":"9.0.0.0/8"},{"dst":"10.0.0.0/8"}]}}}`

func args(conf string) *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: "c1", Netns: "/run/netns/c1", IfName: "eth0", StdinData: []byte(conf)}
}

// TestDelegate: ADD runs the bridge with the config's cniVersion, name
// and args, takes a pool address from host-local, adds the link and
// answers the bridge's result in 0.2.0; DEL removes the link, releases the
// address and runs the bridge's DEL, in that order.
func TestDelegate(t *testing.T) {
	p, k, x, out := newTest(t)
	if err := p.Add(args(spartanNet)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.calls, []string{"ADD bridge", "ADD host-local"}) {
		t.Errorf("calls %v", x.calls)
	}
	var d map[string]any
	json.Unmarshal(x.confs["ADD bridge"], &d)
	if d["cniVersion"] != "0.2.0" || d["name"] != "spartan-net" || d["bridge"] != "sprt-cni0" || d["args"] == nil {
		t.Errorf("delegate config: %s", x.confs["ADD bridge"])
	}
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res["cniVersion"] != "0.2.0" ||
		res["ip4"].(map[string]any)["ip"] != "192.168.250.5/24" {
		t.Errorf("result %s (%v)", out, err)
	}
	want := "vipa" + HostName("c1", "spartan")[4:] + " <-> /run/netns/c1 spartan 198.51.100.10 fd01:d::c633:640a routes " +
		"198.51.100.1/32, 198.51.100.2/32, 198.51.100.3/32, 11.0.0.0/8, fd01:c::/64, 0.0.0.0/0 metric 4096, ::/0 metric 4096"
	if k.String() != want {
		t.Errorf("kernel:\n%s\nwant\n%s", k.String(), want)
	}
	if err := p.Check(args(spartanNet)); err != nil {
		t.Errorf("Check: %v", err)
	}
	x.calls = nil
	if err := p.Del(args(spartanNet)); err != nil {
		t.Fatal(err)
	}
	if k.String() != "" || !slices.Equal(x.calls, []string{"DEL host-local", "DEL bridge"}) {
		t.Errorf("after DEL: kernel %q, calls %v", k.String(), x.calls)
	}
	if err := p.Del(args(spartanNet)); err != nil {
		t.Errorf("second DEL: %v", err)
	}
}

// TestChained: in a conflist after the network's plugin the link is
// added and the prevResult answered; IPv6 and the default route can be
// switched off.
func TestChained(t *testing.T) {
	p, k, x, out := newTest(t)
	conf := `{"cniVersion":"1.0.0","name":"other","type":"dcnet-vipaccess","ipv6":false,"defaultRoute":false,"dns":["198.51.100.1"],
	  "prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],"ips":[{"address":"10.88.0.5/16","interface":0}]}}`
	if err := p.Add(args(conf)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.calls, []string{"ADD host-local"}) || !strings.Contains(out.String(), "10.88.0.5/16") {
		t.Errorf("calls %v, result %s", x.calls, out)
	}
	if got := k.String(); !strings.HasSuffix(got, "spartan 198.51.100.10 - routes 198.51.100.1/32, 11.0.0.0/8") {
		t.Errorf("kernel: %s", got)
	}
}

// TestFailures: bad configs are CNI errors naming the field; a failing
// delegate leaves nothing; a failing link releases the address and runs
// the delegate's DEL.
func TestFailures(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{`{"name":"x","type":"dcnet-vipaccess"}`, "no delegate and no prevResult"},
		{`{"name":"x","type":"dcnet-vipaccess","interface":"this-name-is-too-long"}`, `interface "this-name-is-too-long"`},
		{`{"name":"x","type":"dcnet-vipaccess","dns":["nope"]}`, `dns[0] "nope"`},
		{`{"name":"x","type":"dcnet-vipaccess","delegate":{"bridge":"b"}}`, "delegate.type"},
		{`{"name":`, "decode config"},
	} {
		p, _, _, _ := newTest(t)
		if err := p.Add(args(tc.conf)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.conf, err, tc.want)
		}
	}
	p, k, x, _ := newTest(t)
	x.fail["ADD bridge"] = errors.New("bridge exploded")
	if err := p.Add(args(spartanNet)); err == nil || !strings.Contains(err.Error(), "bridge exploded") {
		t.Errorf("failing delegate: %v", err)
	}
	if k.String() != "" || !slices.Equal(x.calls, []string{"ADD bridge"}) {
		t.Errorf("failing delegate left kernel %q, calls %v", k.String(), x.calls)
	}
	p, k, x, _ = newTest(t)
	k.SetupErr = fmt.Errorf("no such netns")
	if err := p.Add(args(spartanNet)); err == nil || !strings.Contains(err.Error(), "no such netns") {
		t.Errorf("failing link: %v", err)
	}
	if !slices.Equal(x.calls, []string{"ADD bridge", "ADD host-local", "DEL host-local", "DEL bridge"}) {
		t.Errorf("failing link: calls %v", x.calls)
	}
}

func TestPlanAddresses(t *testing.T) {
	c, err := ParseConfig([]byte(`{"name":"x","type":"t","delegate":{"type":"bridge"}}`))
	if err != nil {
		t.Fatal(err)
	}
	l := Plan(c, "/n", "c9", netip.MustParseAddr("198.51.100.253"))
	if l.Addr6 != netip.MustParseAddr("fd01:d::c633:64fd") || l.Host != HostName("c9", "spartan") || len(l.Host) != 12 {
		t.Errorf("link %+v", l)
	}
}
