package mesosdns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/records"
)

// checkFile makes Mesos-DNS's start-up checks and normalisations of mc.
func checkFile(mc *dnsapi.MesosConfig) error {
	if !mc.DNSOn && !mc.HTTPOn {
		return errors.New("DnsOn and HttpOn both false: serve DNS or HTTP")
	}
	if err := uniqueHostPorts("Masters", mc.Masters, false); err != nil {
		return err
	}
	if mc.ExternalOn {
		if err := uniqueHostPorts("Resolvers", mc.Resolvers, true); err != nil {
			return err
		}
		if err := checkZoneResolvers(mc.ZoneResolvers, mc.Domain); err != nil {
			return err
		}
	}
	if err := (records.Config{IPSources: mc.IPSources}).Validate(); err != nil || len(mc.IPSources) == 0 {
		return fmt.Errorf("IPSources %q: want one or more of host, mesos, docker, netinfo, each once", mc.IPSources)
	}
	mc.Domain = strings.ToLower(mc.Domain)
	if !domainRe.MatchString(mc.Domain) {
		return fmt.Errorf("Domain %q: not a domain name", mc.Domain)
	}
	for _, n := range []struct {
		name string
		v    int
		min  int
	}{{"StateTimeoutSeconds", mc.StateTimeoutSeconds, 1}, {"RefreshSeconds", mc.RefreshSeconds, 1},
		{"Timeout", mc.Timeout, 0}, {"ZkDetectionTimeout", mc.ZkDetectionTimeout, 0}, {"TTL", int(mc.TTL), 0}} {
		if n.v < n.min {
			return fmt.Errorf("%s %d: must be at least %d", n.name, n.v, n.min)
		}
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"Port", mc.Port}, {"HttpPort", mc.HTTPPort}} {
		if p.v < 0 || p.v > 65535 {
			return fmt.Errorf("%s %d: out of range [0, 65535]", p.name, p.v)
		}
	}
	for _, l := range []struct{ name, v string }{{"Listener", mc.Listener}, {"HTTPListener", mc.HTTPListener}} {
		if _, err := netip.ParseAddr(l.v); err != nil {
			return fmt.Errorf("%s %q: want an IP address (0.0.0.0: every address)", l.name, l.v)
		}
	}
	if (mc.CertFile == "") != (mc.KeyFile == "") {
		return fmt.Errorf("CertFile %q and KeyFile %q: give both or neither", mc.CertFile, mc.KeyFile)
	}
	switch mc.MesosAuthentication {
	case dnsapi.MesosAuthNone:
	case dnsapi.MesosAuthBasic:
		if mc.MesosCredentials.Principal == "" {
			return errors.New(`MesosAuthentication "basic": MesosCredentials.Principal is empty`)
		}
	case dnsapi.MesosAuthIAM:
		return errors.New(`MesosAuthentication "iam": DC/OS Enterprise's IAM is not supported by dcnet-dns; use "basic" or ""`)
	default:
		return fmt.Errorf("MesosAuthentication %q: want \"\" (none), \"basic\" or \"iam\"", mc.MesosAuthentication)
	}
	mc.SOARname = strings.TrimRight(strings.ReplaceAll(mc.SOARname, "@", "."), ".") + "."
	mc.SOAMname = strings.TrimRight(mc.SOAMname, ".") + "."
	for _, n := range []struct{ name, v string }{{"SOAMname", mc.SOAMname}, {"SOARname", mc.SOARname}} {
		if !domainRe.MatchString(strings.TrimSuffix(n.v, ".")) {
			return fmt.Errorf("%s %q: not a domain name", n.name, n.v)
		}
	}
	return nil
}

// uniqueHostPorts checks a list of host:port (bareOK: or a bare host,
// port 53, which must then be an IP, as Mesos-DNS's resolvers), with
// ports in [1, 65535] and no duplicates once IPs are normalised.
func uniqueHostPorts(field string, list []string, resolvers bool) error {
	seen := map[string]bool{}
	for _, hp := range list {
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			if !resolvers {
				return fmt.Errorf("%s %q: want host:port", field, hp)
			}
			host, port = hp, "53"
		}
		ip, ipErr := netip.ParseAddr(host)
		if ipErr == nil {
			host = ip.String()
		} else if resolvers {
			return fmt.Errorf("%s %q: want an IP address, with an optional port", field, hp)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%s %q: port out of range [1, 65535]", field, hp)
		}
		key := net.JoinHostPort(host, port)
		if seen[key] {
			return fmt.Errorf("%s %q: listed twice", field, hp)
		}
		seen[key] = true
	}
	return nil
}

// checkZoneResolvers checks ZoneResolvers as Mesos-DNS does: each zone a
// domain name with resolvers, none the Mesos domain, none masking another.
func checkZoneResolvers(zrs map[string][]string, domain string) error {
	all := []string{"." + strings.ToLower(domain)}
	for z, rs := range zrs {
		if len(rs) == 0 {
			return fmt.Errorf("ZoneResolvers %q: no resolver", z)
		}
		if !domainRe.MatchString(z) {
			return fmt.Errorf("ZoneResolvers %q: not a domain name", z)
		}
		if err := uniqueHostPorts("ZoneResolvers "+strconv.Quote(z), rs, true); err != nil {
			return err
		}
		if strings.EqualFold(z, domain) {
			return fmt.Errorf("ZoneResolvers %q: the Mesos domain cannot be forwarded", z)
		}
		all = append(all, "."+strings.ToLower(z))
	}
	for _, a := range all {
		for _, b := range all {
			if a != b && strings.HasSuffix(a, b) {
				return fmt.Errorf("ZoneResolvers: %q is masked by %q", strings.TrimPrefix(a, "."), strings.TrimPrefix(b, "."))
			}
		}
	}
	return nil
}
