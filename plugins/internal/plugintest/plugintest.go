// Package plugintest builds a plugin binary for a test and runs it the way
// a container runtime does: CNI_* environment, config on stdin, result or
// error JSON on stdout.
package plugintest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

// Build compiles the main package in dir (a test's working directory is its
// package's) into a temporary directory and returns the binary's path.
func Build(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(mustAbs(t, dir)))
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

func mustAbs(t *testing.T, dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// Call is one plugin invocation.
type Call struct {
	Command     string // CNI_COMMAND
	ContainerID string
	Netns       string // CNI_NETNS
	IfName      string
	Config      []byte
	// InNetns, when set, runs the binary under "ip netns exec InNetns".
	InNetns string
	// NetnsOverride sets CNI_NETNS_OVERRIDE=1: skel then skips its check
	// that CNI_NETNS is not the plugin's own netns (for IPAM tests that
	// need no real container netns).
	NetnsOverride bool
}

// Run executes the plugin; a non-zero exit returns the *types.Error it
// printed.
func Run(bin string, c Call) ([]byte, error) {
	argv := []string{bin}
	if c.InNetns != "" {
		argv = []string{"ip", "netns", "exec", c.InNetns, bin}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(),
		"CNI_COMMAND="+c.Command, "CNI_CONTAINERID="+c.ContainerID, "CNI_NETNS="+c.Netns,
		"CNI_IFNAME="+c.IfName, "CNI_PATH="+filepath.Dir(bin))
	if c.NetnsOverride {
		cmd.Env = append(cmd.Env, "CNI_NETNS_OVERRIDE=1")
	}
	cmd.Stdin = bytes.NewReader(c.Config)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var e types.Error
		if json.Unmarshal(stdout.Bytes(), &e) == nil && e.Msg != "" {
			return stdout.Bytes(), &e
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %v: stdout %q stderr %q", bin, c.Command, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}
