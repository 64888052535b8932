package portmap

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dcnet/dcnet/plugins/netconf"
)

// TestShippedMesosConfigs loads every file of conf/mesos as Mesos would
// hand it over (its network_info injected into "args"), and the delegate
// config dcnet-portmap derives from it with dcnet's own parser when the
// delegate is dcnet.
func TestShippedMesosConfigs(t *testing.T) {
	files, err := filepath.Glob("../../conf/mesos/*.conf")
	if err != nil || len(files) != 3 {
		t.Fatalf("conf/mesos: %v %v, want dcos.conf, dcos6.conf and mesos-bridge.conf", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var obj map[string]any
			if err := json.Unmarshal(data, &obj); err != nil {
				t.Fatal(err)
			}
			if _, ok := obj["args"]; ok {
				t.Fatal(`a Mesos config must not set "args": Mesos refuses it (org.apache.mesos is reserved)`)
			}
			obj["args"] = map[string]any{"org.apache.mesos": map[string]any{"network_info": map[string]any{
				"name": obj["name"], "labels": map[string]any{"labels": []any{map[string]any{"key": "VIP_0", "value": "/web:80"}}},
				"port_mappings": []any{map[string]any{"host_port": 8080, "container_port": 80, "protocol": "tcp"}}}}}
			injected, _ := json.Marshal(obj)
			c, err := Parse(injected)
			if err != nil {
				t.Fatal(err)
			}
			if c.CNIVersion != LegacyVersion || c.Chained() || len(c.Mappings) != 1 || c.Name != obj["name"] {
				t.Errorf("parsed %+v: want version 0.1.0, a delegate, one mapping, name %v", c, obj["name"])
			}
			if c.DelegateType == "dcnet" {
				d, err := netconf.Parse(c.Delegate)
				if err != nil {
					t.Fatalf("the dcnet delegate's config %s: %v", c.Delegate, err)
				}
				if d.Network != c.Name || d.Labels["VIP_0"] != "/web:80" || len(d.PortMappings) != 1 {
					t.Errorf("the dcnet delegate sees %+v: want network %s, the VIP label and the mapping", d, c.Name)
				}
			}
		})
	}
}
