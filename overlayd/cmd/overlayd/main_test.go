package main

import (
	"testing"

	"github.com/dcnet/dcnet/overlayd/config"
)

// TestOverride: an empty flag keeps the config's value (whose own empty
// value means the default: host name, found underlay address, embedded
// etcd); --metrics-addr "-" (its default) keeps the config's and ""
// disables metrics, as "" does in the config.
func TestOverride(t *testing.T) {
	base, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	base.NodeName, base.UnderlayIP, base.MetricsAddr = "n1", "198.18.0.1", "127.0.0.1:9"
	base.Etcd.Endpoints = []string{"http://198.18.0.10:2379"}

	c := base
	if err := override(&c, "", "", "", "", "", "", "-"); err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "n1" || c.UnderlayIP != "198.18.0.1" || c.MetricsAddr != "127.0.0.1:9" || len(c.Etcd.Endpoints) != 1 {
		t.Errorf("empty flags changed the config: %+v", c)
	}
	c = base
	if err := override(&c, "n2", "198.18.0.2", "http://a:2379,http://b:2379", "ca", "cert", "key", ""); err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "n2" || c.UnderlayIP != "198.18.0.2" || c.MetricsAddr != "" || len(c.Etcd.Endpoints) != 2 ||
		c.Etcd.CAFile != "ca" || c.Etcd.CertFile != "cert" || c.Etcd.KeyFile != "key" {
		t.Errorf("flags not applied: %+v", c)
	}
	c = base
	if err := override(&c, "", "not-an-ip", "", "", "", "", "-"); err == nil {
		t.Error("a bad --underlay-ip passed Validate")
	}
}
