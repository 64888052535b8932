package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/l4lb/mesos"
)

// The DC/OS layout of overlays: dcos IPv4-only, dcos6 IPv6-only, as
// DC/OS's and dcnet's default configuration has them.
const dcosConfig = `{"overlays":[{"name":"dcos","subnet":"9.0.0.0/8","prefix":24},{"name":"dcos6","subnet6":"fd01:b::/64","prefix6":80}],` +
	`"reconcileInterval":"1s"}`

// dnsServer is dcnet-dns's first address on every node.
const dnsServer = "198.51.100.1:53"

// hostTask is a host-network Mesos task: it serves on its agent's address
// and declares VIPs on its discovery ports (network-scope host).
type hostTask struct {
	id    string
	ports []mesos.Port
}

// hostAgent is a fake Mesos agent (Operator API GET_STATE, real Mesos
// shapes) on a node, running host-network tasks of framework marathon.
type hostAgent struct {
	mu    sync.Mutex
	ip    string
	tasks []hostTask
}

// startHostAgent serves GET_STATE on nd's underlay address, port 5051.
func startHostAgent(t *testing.T, nd *node) *hostAgent {
	t.Helper()
	a := &hostAgent{ip: nd.UnderlayIP.String()}
	var ln net.Listener
	if err := nd.Do(func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(a.ip, strconv.Itoa(agentPort)))
		return err
	}); err != nil {
		t.Fatalf("fake mesos agent on %s: %v", nd.Name, err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1" || !strings.Contains(string(body), "GET_STATE") {
			http.Error(w, "want POST /api/v1 GET_STATE", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(a.state())
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return a
}

func (a *hostAgent) add(task hostTask) {
	a.mu.Lock()
	a.tasks = append(a.tasks, task)
	a.mu.Unlock()
}

func (a *hostAgent) state() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	const fw, agentID = "e2e-marathon-0001", "e2e-agent"
	st := &mesos.GetState{
		GetFrameworks: mesos.GetFrameworks{Frameworks: []mesos.Framework{{FrameworkInfo: mesos.FrameworkInfo{ID: mesos.Value{Value: fw}, Name: "marathon"}}}},
		GetAgents:     mesos.GetAgents{Agents: []mesos.Agent{{AgentInfo: mesos.AgentInfo{ID: mesos.Value{Value: agentID}, Hostname: a.ip, Port: agentPort}}}},
	}
	for _, task := range a.tasks {
		st.GetTasks.LaunchedTasks = append(st.GetTasks.LaunchedTasks, mesos.Task{
			Name: task.id, TaskID: mesos.Value{Value: task.id}, FrameworkID: mesos.Value{Value: fw}, AgentID: mesos.Value{Value: agentID},
			State:     "TASK_RUNNING",
			Statuses:  []mesos.TaskStatus{{TaskID: mesos.Value{Value: task.id}, AgentID: mesos.Value{Value: agentID}, State: "TASK_RUNNING", Timestamp: 1}},
			Discovery: &mesos.DiscoveryInfo{Name: task.id, Ports: &mesos.Ports{Ports: task.ports}},
			Container: &mesos.ContainerInfo{Type: "MESOS"},
		})
	}
	b, _ := json.Marshal(mesos.Response{Type: "GET_STATE", GetState: st})
	return b
}

// hostPort is a discovery port of a host-network task with its VIP labels
// (Marathon labels host ports network-scope host).
func hostPort(number int64, proto string, vips ...string) mesos.Port {
	ls := []mesos.Label{{Key: "network-scope", Value: "host"}}
	for i, v := range vips {
		ls = append(ls, mesos.Label{Key: "VIP_" + strconv.Itoa(i), Value: v})
	}
	return mesos.Port{Number: number, Protocol: proto, Labels: &mesos.Labels{Labels: ls}}
}

// resolve asks dcnet-dns (dnsServer) from inside n for name's A (v4) or
// AAAA records and returns the first address.
func resolve(n netsim.Namespace, name string, v4 bool) (netip.Addr, error) {
	qtype := dns.TypeAAAA
	if v4 {
		qtype = dns.TypeA
	}
	var addr netip.Addr
	err := n.Do(func(ns.NetNS) error {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qtype)
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
		r, _, err := c.Exchange(m, dnsServer)
		if err != nil {
			return err
		}
		for _, rr := range r.Answer {
			switch v := rr.(type) {
			case *dns.A:
				addr, _ = netip.AddrFromSlice(v.A.To4())
				return nil
			case *dns.AAAA:
				addr, _ = netip.AddrFromSlice(v.AAAA)
				return nil
			}
		}
		return fmt.Errorf("%s %s: %s, no address", name, dns.TypeToString[qtype], dns.RcodeToString[r.Rcode])
	})
	return addr, err
}

// dialAll makes n connections (TCP) or sends n datagrams (UDP, a new flow
// each) from ns to target and fails unless every answer is want.
func dialAll(n netsim.Namespace, proto, target, want string, count int) error {
	var counts map[string]int
	var err error
	if proto == "udp" {
		counts, err = netsim.DialCountUDP(n, count, target, l4lbDialMax)
	} else {
		counts, err = netsim.DialCount(n, count, target, l4lbDialMax)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %v (answers %v)", proto, target, err, counts)
	}
	if counts[want] != count {
		return fmt.Errorf("%s %s: answers %v, want %d from %s", proto, target, counts, count, want)
	}
	return nil
}

// attachPlugin runs the dcnet plugin's ADD for container c on the
// network (a config of its own: name, labels) as interface ifName and
// returns the addresses of the result.
func attachPlugin(t *testing.T, nd *node, c *netsim.Container, network, ifName string, labels map[string]string) (ip4, ip6 string) {
	t.Helper()
	var ls []map[string]string
	for k, v := range labels {
		ls = append(ls, map[string]string{"key": k, "value": v})
	}
	conf, _ := json.Marshal(map[string]any{"cniVersion": "1.1.0", "name": network, "type": "dcnet", "network": network,
		"socket": nd.socket, "args": map[string]any{"labels": ls}})
	r := nd.execPlugin("dcnet", "ADD", c.Name+"-"+ifName, c.Path, ifName, string(conf))
	if r.ExitCode != 0 {
		t.Fatalf("dcnet ADD %s %s on %s: exit %d %s %s", network, ifName, nd.Name, r.ExitCode, r.Stdout, r.Stderr)
	}
	var res struct {
		IPs []struct{ Address string } `json:"ips"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatal(err)
	}
	for _, ip := range res.IPs {
		a, _, _ := strings.Cut(ip.Address, "/")
		if strings.Contains(a, ":") {
			ip6 = a
		} else {
			ip4 = a
		}
	}
	return ip4, ip6
}

// errNotApplicable marks a matrix cell that DC/OS does not have either.
var errNotApplicable = errors.New("n/a")
