package mesos

import (
	"net/netip"
	"strings"
	"testing"
)

const killingState = `{"type":"GET_STATE","get_state":{
 "get_frameworks":{"frameworks":[{"framework_info":{"id":{"value":"f1"},"name":"marathon"}}]},
 "get_tasks":{"launched_tasks":[{
  "task_id":{"value":"web.1"},"framework_id":{"value":"f1"},"agent_id":{"value":"a1"},"state":"TASK_KILLING",
  "labels":{"labels":[{"key":"VIP_PORT0","value":"udp://dns:53"},{"key":"VIP_PORT5","value":"tcp://far:80"}]},
  "resources":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31001}]}}],
  "statuses":[{"state":"TASK_RUNNING","timestamp":2,"healthy":true,"container_status":{"network_infos":[{"ip_addresses":[{"ip_address":"9.0.1.7"}]}]}}],
  "discovery":{"ports":{"ports":[
   {"number":80,"protocol":"tcp","labels":{"labels":[{"key":"VIP_0","value":"/web:80"},{"key":"VIP_1","value":"/web:0"}]}},
   {"number":31001,"protocol":"tcp","labels":{"labels":[{"key":"network-scope","value":"host"},{"key":"VIP_0","value":"5.6.7.8:443"}]}}]}}
 }]}}}`

func TestKillingHostScopeAndErrors(t *testing.T) {
	st, err := Decode([]byte(killingState))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := Backends(st, netip.MustParseAddr("198.18.0.3"), nil)
	var got []string
	for _, b := range bs {
		got = append(got, b.VIP.String()+" -> "+b.Backend.String())
	}
	want := []string{
		"tcp://5.6.7.8:443 -> 198.18.0.3:31001 node a1 draining",
		"tcp:///web@marathon:80 -> 9.0.1.7:80 node a1 draining",
		"udp://dns@marathon:53 -> 198.18.0.3:31000 node a1 draining",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, frag := range []string{`task web.1 of framework marathon`, `VIP_1="/web:0": port 0`, `VIP_PORT5="tcp://far:80": the task has no port resource 5`} {
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("error %v: want it to contain %q", err, frag)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, in := range []string{`{"type":"GET_AGENT"}`, `nope`, `{"type":"GET_STATE","get_state":{"get_tasks":{"tasks":[{"resources":"x"}]}}}`} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%s): want an error", in)
		}
	}
	if _, err := Replay(strings.NewReader(`{"type":"TASK_ADDED"}`)); err == nil {
		t.Error("Replay of a TASK_ADDED without a body: want an error")
	}
}

// TestPortLabelProtocol: a port label that names its protocol
// (VIP_0=udp://dns:53) declares the VIP on the port of that protocol only:
// Marathon gives a "udp,tcp" port one discovery port per protocol with the
// same labels, and the tcp one carries no UDP VIP (and no error).
func TestPortLabelProtocol(t *testing.T) {
	st, err := Decode([]byte(`{"type":"GET_STATE","get_state":{
 "get_frameworks":{"frameworks":[{"framework_info":{"id":{"value":"f1"},"name":"marathon"}}]},
 "get_tasks":{"tasks":[{
  "task_id":{"value":"dns.1"},"framework_id":{"value":"f1"},"agent_id":{"value":"a1"},"state":"TASK_RUNNING",
  "statuses":[{"state":"TASK_RUNNING","timestamp":2,"container_status":{"network_infos":[{"ip_addresses":[{"ip_address":"9.0.1.7"}]}]}}],
  "discovery":{"ports":{"ports":[
   {"number":53,"protocol":"udp","labels":{"labels":[{"key":"VIP_0","value":"udp:///dns:53"}]}},
   {"number":53,"protocol":"tcp","labels":{"labels":[{"key":"VIP_0","value":"udp:///dns:53"}]}}]}}
 }]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := Backends(st, netip.MustParseAddr("198.18.0.3"), nil)
	if err != nil || len(bs) != 1 || bs[0].VIP.String() != "udp:///dns@marathon:53" || bs[0].Backend.AddrPort().String() != "9.0.1.7:53" {
		t.Errorf("backends %v, err %v; want only udp:///dns@marathon:53 -> 9.0.1.7:53", bs, err)
	}
}
