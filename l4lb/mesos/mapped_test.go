package mesos

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// mappedTask is a running task whose container port 80 is mapped to a host
// port and carries VIP /<name>:80.
func mappedTask(id, container, taskIP string, hostPort int) string {
	var c string
	switch container {
	case "MESOS":
		c = fmt.Sprintf(`{"type":"MESOS","network_infos":[{"name":"n","port_mappings":[{"host_port":%d,"container_port":80,"protocol":"tcp"}]}]}`, hostPort)
	case "DOCKER":
		c = fmt.Sprintf(`{"type":"DOCKER","docker":{"network":"BRIDGE","port_mappings":[{"host_port":%d,"container_port":80,"protocol":"tcp"}]}}`, hostPort)
	}
	return fmt.Sprintf(`{"task_id":{"value":%q},"framework_id":{"value":"f1"},"agent_id":{"value":"a1"},"state":"TASK_RUNNING","container":%s,
	  "statuses":[{"state":"TASK_RUNNING","timestamp":1,"container_status":{"network_infos":[{"ip_addresses":[{"ip_address":%q}]}]}}],
	  "discovery":{"ports":{"ports":[{"number":80,"protocol":"tcp","labels":{"labels":[{"key":"VIP_0","value":"/%s:80"}]}}]}}}`,
		id, c, taskIP, id)
}

// TestMappedPorts: a port-mapped UCR or Docker task with an overlay address
// is balanced to that address and its container port (reachable from every
// node); one on a node-local bridge (UCR's mesos-bridge, Docker's BRIDGE)
// to the agent IP and host port.
func TestMappedPorts(t *testing.T) {
	state := `{"type":"GET_STATE","get_state":{"get_frameworks":{"frameworks":[{"framework_info":{"id":{"value":"f1"},"name":"marathon"}}]},
	 "get_tasks":{"tasks":[` + strings.Join([]string{
		mappedTask("ucr-overlay", "MESOS", "9.0.1.5", 31080),
		mappedTask("ucr-bridge", "MESOS", "172.31.254.5", 31081),
		mappedTask("docker-bridge", "DOCKER", "172.17.0.2", 31082),
		mappedTask("docker-overlay", "DOCKER", "9.0.2.3", 31083),
	}, ",") + `]}}}`
	st, err := Decode([]byte(state))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := Backends(st, netip.MustParseAddr("198.18.0.3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bs {
		s := b.VIP.String() + " -> " + b.Backend.AddrPort().String()
		if b.Backend.Local.IsValid() {
			s += " (local " + b.Backend.Local.String() + ")"
		}
		got = append(got, s)
	}
	want := []string{
		"tcp:///docker-bridge@marathon:80 -> 198.18.0.3:31082 (local 172.17.0.2:80)",
		"tcp:///docker-overlay@marathon:80 -> 9.0.2.3:80",
		"tcp:///ucr-bridge@marathon:80 -> 198.18.0.3:31081 (local 172.31.254.5:80)",
		"tcp:///ucr-overlay@marathon:80 -> 9.0.1.5:80",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Without overlays configured every mapped port is agent IP:host port.
	bs, _ = Backends(st, netip.MustParseAddr("198.18.0.3"), []netip.Prefix{})
	for _, b := range bs {
		if b.Backend.IP != netip.MustParseAddr("198.18.0.3") {
			t.Errorf("no overlays: %s -> %s, want the agent IP", b.VIP, b.Backend)
		}
	}
}
