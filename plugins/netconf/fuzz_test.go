package netconf

import (
	"errors"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

// FuzzParseConfig checks that both parsers either return a *types.Error or
// a config that satisfies the documented invariants, whatever the input.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		mesosConf,
		`{"cniVersion":"1.1.0","name":"dcos","mtu":1420,"hairpinMode":false,"args":{"labels":{"a":"b"}}}`,
		`{"name":"dcos","ipam":{"type":"dcnet-ipam","network":"dcos6","routes":[{"dst":"::/0"}]}}`,
		`{"name":"dcos","runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80}]}}`,
		`{"cniVersion":"1.0.0","name":"dcos","prevResult":{"ips":[{"address":"9.0.3.2/24"}]}}`,
		`{"name":"dcos","mtu":"big"}`,
		`{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func([]byte) (*Config, error){Parse, ParseIPAM} {
			c, err := parse(data)
			if err != nil {
				var e *types.Error
				if !errors.As(err, &e) || e.Msg == "" {
					t.Fatalf("error %v (%T) is not a *types.Error with a message", err, err)
				}
				continue
			}
			if c.Network == "" || len(c.Network) > maxNetworkLen || !networkRE.MatchString(c.Network) {
				t.Fatalf("accepted network %q", c.Network)
			}
			if c.MTU != 0 && (c.MTU < MinMTU || c.MTU > MaxMTU) {
				t.Fatalf("accepted mtu %d", c.MTU)
			}
			if c.CNIVersion == "" || c.Socket == "" {
				t.Fatalf("defaults missing: %+v", c)
			}
			for _, pm := range c.PortMappings {
				if pm.HostPort < 1 || pm.HostPort > maxPort || pm.ContainerPort < 1 || pm.ContainerPort > maxPort ||
					(pm.Protocol != "tcp" && pm.Protocol != "udp" && pm.Protocol != "sctp") {
					t.Fatalf("accepted port mapping %+v", pm)
				}
			}
			for k := range c.Labels {
				if k == "" {
					t.Fatal("accepted an empty label key")
				}
			}
		}
	})
}
