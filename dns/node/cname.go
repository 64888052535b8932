package node

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/dns/server"
)

// CNAME makes Name a zone of its own holding one authoritative CNAME to
// Target at its apex, answered for every question type (the handler
// follows in-cluster targets, see package server).
type CNAME struct {
	// Name is the zone and owner name, e.g.
	// "registry.component.thisdcos.directory.".
	Name string
	// Target is where it points, e.g. "master.mesos.".
	Target string
}

// ParseCNAME reads the --cname form "name=target".
func ParseCNAME(spec string) (CNAME, error) {
	name, target, ok := strings.Cut(spec, "=")
	if !ok {
		return CNAME{}, fmt.Errorf("cname %q: want name=target, name a domain name", spec)
	}
	c := CNAME{Name: name, Target: target}.canonical()
	return c, c.check(spec)
}

// canonical trims, lower-cases and fully qualifies both names.
func (c CNAME) canonical() CNAME {
	return CNAME{Name: dns.CanonicalName(strings.TrimSpace(c.Name)), Target: dns.CanonicalName(strings.TrimSpace(c.Target))}
}

// Validate checks that both names are domain names other than the root
// and differ.
func (c CNAME) Validate() error { return c.canonical().check(c.Name + "=" + c.Target) }

// check validates the canonical c, naming spec in errors.
func (c CNAME) check(spec string) error {
	if _, ok := dns.IsDomainName(c.Name); !ok || c.Name == "." {
		return fmt.Errorf("cname %q: want name=target, name a domain name", spec)
	}
	if _, ok := dns.IsDomainName(c.Target); !ok || c.Target == "." {
		return fmt.Errorf("cname %q: target %q is not a domain name", spec, c.Target)
	}
	if c.Name == c.Target {
		return fmt.Errorf("cname %q: name and target are the same", spec)
	}
	return nil
}

// Zone is the zone c builds: its name with one CNAME at the apex.
func (c CNAME) Zone() *server.StaticZone {
	c = c.canonical()
	rr := &dns.CNAME{Hdr: dns.RR_Header{Name: c.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: server.TTL}, Target: c.Target}
	return server.NewStaticZone(c.Name, rr)
}
