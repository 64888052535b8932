package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dcnet/dcnet/internal/netsim"
)

// mesosIsolator is Mesos' network/cni isolator as apache/mesos
// src/slave/containerizer/mesos/isolators/network/cni/{cni,paths,spec}.cpp
// run plugins: configs loaded from --network_cni_config_dir (one plugin per
// file, kept only when its type is found in the --network_cni_plugins_dir
// search path), Mesos' NetworkInfo injected under
// args["org.apache.mesos"].network_info, the netns of the container
// bind-mounted to <rootDir>/<containerID>/ns, the config checkpointed to
// <rootDir>/<containerID>/<network>/network.conf and fed to the plugin from
// that file, an environment of exactly CNI_COMMAND, CNI_CONTAINERID,
// CNI_PATH (the plugins dir), CNI_IFNAME, CNI_NETNS and PATH (no CNI_ARGS),
// the result parsed as spec.proto's NetworkInfo (ip4, ip6, dns) and
// checkpointed to <network>/<ifname>/network.info, and DEL run later from
// the checkpointed config.
type mesosIsolator struct {
	t          *testing.T
	node       *node
	configDir  string
	pluginsDir string // colon-separated search path
	rootDir    string // <runtime_dir>/isolators/network/cni
}

// mesosNetworkInfo is spec.proto's NetworkInfo: what Mesos reads of a
// plugin's result.
type mesosNetworkInfo struct {
	IP4 *struct {
		IP      string `json:"ip"`
		Gateway string `json:"gateway"`
	} `json:"ip4"`
	IP6 *struct {
		IP string `json:"ip"`
	} `json:"ip6"`
	DNS *struct {
		Nameservers []string `json:"nameservers"`
	} `json:"dns"`
}

// loadConfig is loadNetworkConfigs + getNetworkConfigJSON for one network:
// the file whose "name" is network and whose type is in the plugins dir.
func (m *mesosIsolator) loadConfig(network string) (map[string]any, string) {
	m.t.Helper()
	entries, err := os.ReadDir(m.configDir)
	if err != nil {
		m.t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(m.configDir, e.Name()))
		if err != nil {
			m.t.Fatal(err)
		}
		var conf map[string]any
		if err := json.Unmarshal(data, &conf); err != nil {
			continue // Mesos logs and skips a file that does not parse
		}
		typ, _ := conf["type"].(string)
		if conf["name"] != network || m.which(typ) == "" {
			continue
		}
		return conf, typ
	}
	m.t.Fatalf("isolator: unknown CNI network %q in %s", network, m.configDir)
	return nil, ""
}

// which is os::which(type, pluginDir): the first executable in the path.
func (m *mesosIsolator) which(name string) string {
	for _, dir := range filepath.SplitList(m.pluginsDir) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func (m *mesosIsolator) containerDir(id string) string { return filepath.Join(m.rootDir, id) }
func (m *mesosIsolator) nsPath(id string) string       { return filepath.Join(m.containerDir(id), "ns") }
func (m *mesosIsolator) networkConf(id, network string) string {
	return filepath.Join(m.containerDir(id), network, "network.conf")
}

// isolate bind-mounts the container's netns handle and attaches it to
// network with networkInfo (name, labels, port_mappings as Mesos' JSON).
func (m *mesosIsolator) isolate(id string, c *netsim.Container, network string, networkInfo map[string]any) (mesosNetworkInfo, error) {
	m.t.Helper()
	dir := m.containerDir(id)
	if err := os.MkdirAll(filepath.Join(dir, network, "eth0"), 0o755); err != nil {
		m.t.Fatal(err)
	}
	target := m.nsPath(id)
	if err := os.WriteFile(target, nil, 0o444); err != nil {
		m.t.Fatal(err)
	}
	if err := unix.Mount(c.Path, target, "", unix.MS_BIND, ""); err != nil {
		m.t.Fatalf("bind mount %s on %s: %v", c.Path, target, err)
	}
	m.t.Cleanup(func() { m.unmountNS(id) })

	conf, typ := m.loadConfig(network)
	args, _ := conf["args"].(map[string]any)
	if args == nil {
		args = map[string]any{}
	}
	if _, reserved := args["org.apache.mesos"]; reserved {
		m.t.Fatal("'org.apache.mesos' in 'args' should not be set in CNI network configuration file")
	}
	args["org.apache.mesos"] = map[string]any{"network_info": networkInfo}
	conf["args"] = args
	data, err := json.Marshal(conf)
	if err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(m.networkConf(id, network), data, 0o644); err != nil {
		m.t.Fatal(err)
	}
	out, err := m.exec(typ, "ADD", id, target, m.networkConf(id, network))
	if err != nil {
		return mesosNetworkInfo{}, err
	}
	var info mesosNetworkInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return info, fmt.Errorf("isolator: parse the output of %s: %v: %s", typ, err, out)
	}
	for _, ip := range []string{ipOf(info.IP4), ipOf6(info.IP6)} {
		if _, err := netip.ParsePrefix(ip); ip != "" && err != nil {
			return info, fmt.Errorf("isolator: address %q is not in CIDR notation", ip)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, network, "eth0", "network.info"), out, 0o644); err != nil {
		m.t.Fatal(err)
	}
	return info, nil
}

// cleanup is detach + _cleanup: DEL from the checkpointed config with
// CNI_NETNS the handle (or, after a reboot, no CNI_NETNS at all), then the
// interface dir, the handle and the container dir go.
func (m *mesosIsolator) cleanup(id, network string) error {
	m.t.Helper()
	path := m.networkConf(id, network)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("isolator: read checkpoint %s: %w", path, err)
	}
	var conf map[string]any
	if err := json.Unmarshal(data, &conf); err != nil || conf["name"] != network {
		return fmt.Errorf("isolator: checkpoint %s is not network %s's config: %v", path, network, err)
	}
	netns := m.nsPath(id)
	if _, err := os.Stat(netns); err != nil {
		netns = "" // gone with a reboot
	}
	if _, err := m.exec(conf["type"].(string), "DEL", id, netns, path); err != nil {
		return err
	}
	m.unmountNS(id)
	return os.RemoveAll(m.containerDir(id))
}

func (m *mesosIsolator) unmountNS(id string) {
	target := m.nsPath(id)
	if _, err := os.Stat(target); err == nil {
		_ = unix.Unmount(target, unix.MNT_DETACH)
		_ = os.Remove(target)
	}
}

// exec runs the plugin inside the node netns with Mesos' environment and
// the checkpoint on stdin; a failure carries stdout and stderr as Mesos'
// message does.
func (m *mesosIsolator) exec(typ, command, id, netns, confPath string) ([]byte, error) {
	plugin := m.which(typ)
	if plugin == "" {
		return nil, fmt.Errorf("isolator: unable to find the plugin %s", typ)
	}
	stdin, err := os.Open(confPath)
	if err != nil {
		return nil, err
	}
	defer stdin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, ipPath, "netns", "exec", m.node.NSName, plugin)
	cmd.Env = []string{"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + id, "CNI_PATH=" + m.pluginsDir,
		"CNI_IFNAME=eth0", "PATH=" + os.Getenv("PATH")}
	if netns != "" {
		cmd.Env = append(cmd.Env, "CNI_NETNS="+netns)
	}
	var so, se bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &so, &se
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, err
		}
		return so.Bytes(), fmt.Errorf("the CNI plugin '%s' failed to %s container %s: stdout='%s', stderr='%s'",
			plugin, strings.ToLower(command), id, strings.TrimSpace(so.String()), strings.TrimSpace(se.String()))
	}
	return so.Bytes(), nil
}

func ipOf(p *struct {
	IP      string `json:"ip"`
	Gateway string `json:"gateway"`
}) string {
	if p == nil {
		return ""
	}
	return p.IP
}

func ipOf6(p *struct {
	IP string `json:"ip"`
}) string {
	if p == nil {
		return ""
	}
	return p.IP
}
