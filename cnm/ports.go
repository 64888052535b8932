package cnm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/dcnet/dcnet/overlayd/api"
)

// Ports publishes a Docker endpoint's host ports (`docker run -p`). The
// production one runs the dcnet-portmap CNI plugin, so Docker's and the
// CNI runtimes' host ports share one data plane, one state and one
// conflict check.
type Ports interface {
	// Publish maps the endpoint's host ports to its addresses; safe to
	// repeat. netns is the container's sandbox.
	Publish(ctx context.Context, endpointID, netns string, addrs []netip.Addr, pms []api.PortMapping) error
	// Unpublish removes them; safe to repeat and without a Publish.
	Unpublish(ctx context.Context, endpointID string) error
}

// PortmapChain is the dcnet-portmap chain of Docker's host ports.
const PortmapChain = "D-DCOS"

// PortmapExec is Ports over the dcnet-portmap binary, run in chained style
// with the endpoint's addresses as prevResult.
type PortmapExec struct {
	// Binary is dcnet-portmap's path.
	Binary string
	// StateDir is its state directory ("" = its default).
	StateDir string
}

var _ Ports = PortmapExec{}

// conf is the chained config of one call.
func (p PortmapExec) conf(addrs []netip.Addr, pms []api.PortMapping) ([]byte, error) {
	type pm struct {
		HostPort      int    `json:"hostPort"`
		ContainerPort int    `json:"containerPort"`
		Protocol      string `json:"protocol"`
	}
	c := map[string]any{"cniVersion": "1.0.0", "name": "docker", "type": "dcnet-portmap", "chain": PortmapChain}
	if p.StateDir != "" {
		c["stateDir"] = p.StateDir
	}
	var maps []pm
	for _, m := range pms {
		maps = append(maps, pm{m.HostPort, m.ContainerPort, m.Protocol})
	}
	c["runtimeConfig"] = map[string]any{"portMappings": maps}
	var ips []map[string]string
	for _, a := range addrs {
		bits := 32
		if a.Is6() {
			bits = 128
		}
		ips = append(ips, map[string]string{"address": netip.PrefixFrom(a, bits).String()})
	}
	c["prevResult"] = map[string]any{"cniVersion": "1.0.0", "ips": ips}
	return json.Marshal(c)
}

// Publish implements Ports.
func (p PortmapExec) Publish(ctx context.Context, id, netns string, addrs []netip.Addr, pms []api.PortMapping) error {
	conf, err := p.conf(addrs, pms)
	if err != nil {
		return err
	}
	return p.run(ctx, "ADD", id, netns, conf)
}

// Unpublish implements Ports.
func (p PortmapExec) Unpublish(ctx context.Context, id string) error {
	conf, err := p.conf(nil, nil)
	if err != nil {
		return err
	}
	return p.run(ctx, "DEL", id, "", conf)
}

func (p PortmapExec) run(ctx context.Context, command, id, netns string, conf []byte) error {
	cmd := exec.CommandContext(ctx, p.Binary)
	cmd.Env = append(os.Environ(), "CNI_COMMAND="+command, "CNI_CONTAINERID="+id, "CNI_NETNS="+netns,
		"CNI_IFNAME="+attachIfName, "CNI_PATH="+filepath.Dir(p.Binary))
	cmd.Stdin = bytes.NewReader(conf)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		var e struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		}
		if json.Unmarshal(out.Bytes(), &e) == nil && e.Msg != "" {
			return fmt.Errorf("host ports of endpoint %.12s: %s (dcnet-portmap code %d)", id, e.Msg, e.Code)
		}
		return fmt.Errorf("host ports of endpoint %.12s: %s %s: %v: %s", id, p.Binary, command, err, strings.TrimSpace(errOut.String()))
	}
	return nil
}

// FindPortmap looks dcnet-portmap up in PATH, then beside this program,
// then in the CNI plugin directories; "" when it is nowhere.
func FindPortmap() string {
	if p, err := exec.LookPath("dcnet-portmap"); err == nil {
		return p
	}
	dirs := []string{"/opt/mesosphere/active/cni", "/opt/cni/bin"}
	if self, err := os.Executable(); err == nil {
		dirs = append([]string{filepath.Dir(self)}, dirs...)
	}
	for _, d := range dirs {
		p := filepath.Join(d, "dcnet-portmap")
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}
