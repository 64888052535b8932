package clustersim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
)

// cnitoolTimeout bounds one cnitool run.
const cnitoolTimeout = 60 * time.Second

// CNITool runs cnitool inside a node's netns, as a container runtime
// would run the plugins there.
type CNITool struct {
	Bin string // the cnitool binary
	// CNIPath is CNI_PATH, the directory of the plugins.
	CNIPath string
	// ConfDir is NETCONFPATH, the directory of the network configs.
	ConfDir string
}

// Attached is what ADD gave a container: its addresses without their
// prefix length ("" where the network has none of that family).
type Attached struct {
	IP4, IP6 string
}

// Add runs `cnitool add network netnsPath` in ns and returns the addresses
// of the result it prints; an error carries cnitool's output.
func (c CNITool) Add(ctx context.Context, ns netsim.Namespace, network, netnsPath string) (Attached, error) {
	var stdout, stderr bytes.Buffer
	if err := c.run(ctx, ns, &stdout, &stderr, "add", network, netnsPath); err != nil {
		return Attached{}, fmt.Errorf("%w\n%s%s", err, stdout.Bytes(), stderr.Bytes())
	}
	var res struct {
		IPs []struct{ Address string } `json:"ips"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return Attached{}, fmt.Errorf("cnitool add %s in %s: result %q: %w", network, ns.NSName, stdout.Bytes(), err)
	}
	var a Attached
	for _, ip := range res.IPs {
		addr, _, _ := strings.Cut(ip.Address, "/")
		if strings.Contains(addr, ":") {
			a.IP6 = addr
		} else {
			a.IP4 = addr
		}
	}
	return a, nil
}

// Run runs cnitool with args in ns and returns its output, stdout and
// stderr together.
func (c CNITool) Run(ctx context.Context, ns netsim.Namespace, args ...string) (string, error) {
	var out bytes.Buffer
	err := c.run(ctx, ns, &out, &out, args...)
	return out.String(), err
}

func (c CNITool) run(ctx context.Context, ns netsim.Namespace, stdout, stderr io.Writer, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, cnitoolTimeout)
	defer cancel()
	cmd := ns.Exec(ctx, append([]string{c.Bin}, args...)...)
	cmd.Env = append(os.Environ(), "CNI_PATH="+c.CNIPath, "NETCONFPATH="+c.ConfDir)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cnitool %s in %s: %w", strings.Join(args, " "), ns.NSName, err)
	}
	return nil
}
