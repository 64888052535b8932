package marathon

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
)

// Defaults of Marathon-LB's --min-serv-port-ip-per-task and
// --max-serv-port-ip-per-task.
const (
	DefaultMinAssignedPort = 10050
	DefaultMaxAssignedPort = 10100
	// maxClashes is how many hashes are tried before the lowest free port.
	maxClashes = 50
)

// PortAssigner gives service ports to IP-per-task apps that have none
// (Marathon does not assign them: mesosphere/marathon#3636), from
// [Min, Max], deterministically from the app ID and task port as
// Marathon-LB's ServicePortAssigner does, so every instance of the
// balancer picks the same ports for the same apps. Such ports serve
// vhost routing; binding them is what makes the app reachable through
// the :80 and :443 frontends.
type PortAssigner struct {
	Min, Max int
	taken    map[int]bool
	byKey    map[string]int
}

// NewPortAssigner returns an assigner of [min, max]; min 0 disables it.
func NewPortAssigner(min, max int) *PortAssigner {
	return &PortAssigner{Min: min, Max: max, taken: map[int]bool{}, byKey: map[string]int{}}
}

// Reserve marks a port as used by a declared service port, so no
// assigned port collides with it.
func (p *PortAssigner) Reserve(port int) { p.taken[port] = true }

// ServicePorts are the app's service ports: the declared ones, else
// (IP-per-task apps with running tasks) one assigned port per task port.
// A port that cannot be assigned (range exhausted) is 0.
func (p *PortAssigner) ServicePorts(a *App) []int {
	if ports := DeclaredServicePorts(a); len(ports) > 0 {
		return ports
	}
	if p == nil || p.Min <= 0 || p.Max < p.Min || NetworkingMode(a) != ModeContainer || len(a.Tasks) == 0 {
		return nil
	}
	taskPorts := TaskPorts(a, &a.Tasks[0])
	out := make([]int, 0, len(taskPorts))
	for _, tp := range taskPorts {
		out = append(out, p.assign(a.ID, tp))
	}
	return out
}

func (p *PortAssigner) assign(appID string, taskPort int) int {
	key := appID + "\x00" + strconv.Itoa(taskPort)
	if port, ok := p.byKey[key]; ok {
		return port
	}
	size := p.Max - p.Min + 1
	port := 0
	for i := 0; i < maxClashes && port == 0; i++ {
		sum := sha1.Sum([]byte(fmt.Sprintf("%s-%d-%d", appID, taskPort, i)))
		n, _ := strconv.ParseUint(hex.EncodeToString(sum[:4]), 16, 64)
		if trial := p.Min + int(n%uint64(size)); !p.taken[trial] {
			port = trial
		}
	}
	for trial := p.Min; port == 0 && trial <= p.Max; trial++ {
		if !p.taken[trial] {
			port = trial
		}
	}
	if port != 0 {
		p.taken[port] = true
	}
	p.byKey[key] = port
	return port
}
