package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/forward"
	"github.com/dcnet/dcnet/dns/resolver"
)

// maxFileBytes bounds a dcos-dns.json.
const maxFileBytes = 1 << 20

// defaultFilePort is the DNS port when dcos-dns.json gives none (DC/OS
// writes 53).
const defaultFilePort = 53

// File is dcos-dns's configuration file, /opt/mesosphere/etc/dcos-dns.json,
// with its field names:
//
//	{"upstream_resolvers": ["169.254.169.253"], "udp_port": 53, "tcp_port": 53,
//	 "forward_zones": {"a.contoso.com": ["1.1.1.1:53", "2.2.2.2"]},
//	 "bind_ip_blacklist": ["10.0.0.9"]}
type File struct {
	// UpstreamResolvers are the upstreams, "ip[:port]" (port 53).
	UpstreamResolvers []string `json:"upstream_resolvers"`
	// ForwardZones maps a zone to its servers, "ip[:port]": an object, or
	// (older dcos-dns) a list of [zone, [servers]] pairs.
	ForwardZones json.RawMessage `json:"forward_zones"`
	// BindIPs are the addresses served; none: every IPv4 address of the
	// node (or of BindInterface), with dcos-dns's 198.51.100.1-3.
	BindIPs []string `json:"bind_ips"`
	// BindIPBlacklist are addresses never served.
	BindIPBlacklist []string `json:"bind_ip_blacklist"`
	// BindInterface limits the addresses found to one interface's.
	BindInterface string `json:"bind_interface"`
	// UDPPort and TCPPort are the DNS port (dcnet-dns serves both on one).
	UDPPort *int `json:"udp_port"`
	TCPPort *int `json:"tcp_port"`
	// UDPServerEnabled and TCPServerEnabled must not be false: dcnet-dns
	// always serves both.
	UDPServerEnabled *bool `json:"udp_server_enabled"`
	TCPServerEnabled *bool `json:"tcp_server_enabled"`
	// HandlerLimit is dcos-dns's bound on concurrent queries; accepted,
	// without effect (dcnet-dns has no such bound to set).
	HandlerLimit *int `json:"handler_limit"`
	// MesosResolvers are the Mesos-DNS servers, "ip[:port]" (port 61053).
	MesosResolvers []string `json:"mesos_resolvers"`
}

// fileFields are File's JSON names, matched exactly, as dcos-dns does.
var fileFields = []string{"upstream_resolvers", "forward_zones", "bind_ips", "bind_ip_blacklist", "bind_interface",
	"udp_port", "tcp_port", "udp_server_enabled", "tcp_server_enabled", "handler_limit", "mesos_resolvers"}

// DecodeFile reads a dcos-dns.json. A field dcos-dns does not read, one
// of the wrong type, or anything but one JSON object is an error naming
// it.
func DecodeFile(r io.Reader) (File, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return File{}, err
	}
	if len(data) > maxFileBytes {
		return File{}, fmt.Errorf("larger than %d bytes", maxFileBytes)
	}
	var keys map[string]json.RawMessage
	if err := strictJSON(data, &keys); err != nil {
		return File{}, err
	}
	if keys == nil {
		return File{}, errors.New("not a JSON object")
	}
	for k := range keys {
		if !slices.Contains(fileFields, k) {
			return File{}, fmt.Errorf("field %q: unknown (dcos-dns reads %s)", k, strings.Join(fileFields, ", "))
		}
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return File{}, fmt.Errorf("field %q: got JSON %s, want %s", typ.Field, typ.Value, typ.Type)
		}
		return File{}, err
	}
	return f, nil
}

// strictJSON decodes exactly one JSON value from data into v.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("invalid JSON at offset %d: %w", syn.Offset, err)
		case errors.As(err, &typ):
			return fmt.Errorf("got JSON %s, want an object", typ.Value)
		case errors.Is(err, io.EOF):
			return errors.New("empty file, want a JSON object")
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("unexpected data after the JSON object at offset %d", dec.InputOffset())
	}
	return nil
}

// forwardZones reads ForwardZones in either form.
func (f File) forwardZones() ([]resolver.ForwardZone, error) {
	raw := bytes.TrimSpace(f.ForwardZones)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var zones []resolver.ForwardZone
	var obj map[string][]string
	if err := json.Unmarshal(raw, &obj); err == nil {
		names := make([]string, 0, len(obj))
		for z := range obj {
			names = append(names, z)
		}
		slices.Sort(names)
		for _, z := range names {
			zones = append(zones, resolver.ForwardZone{Zone: strings.TrimSuffix(z, ".") + ".", Servers: obj[z]})
		}
		return zones, nil
	}
	var pairs [][]json.RawMessage
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, errors.New(`field "forward_zones": want {"zone": ["ip[:port]", ...]} or [["zone", ["ip[:port]", ...]], ...]`)
	}
	for i, p := range pairs {
		var z resolver.ForwardZone
		if len(p) != 2 || json.Unmarshal(p[0], &z.Zone) != nil || json.Unmarshal(p[1], &z.Servers) != nil {
			return nil, fmt.Errorf(`field "forward_zones": entry %d: want ["zone", ["ip[:port]", ...]]`, i)
		}
		z.Zone = strings.TrimSuffix(z.Zone, ".") + "."
		zones = append(zones, z)
	}
	return zones, nil
}

// LoadConfigFile reads dcos-dns's dcos-dns.json at path onto
// DefaultConfig (ConfigFromFile), with the node's addresses for a file
// that names no bind_ips.
func LoadConfigFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("dcos-dns config: %w", err)
	}
	f, err := DecodeFile(bytes.NewReader(b))
	if err == nil {
		var c Config
		if c, err = ConfigFromFile(f, InterfaceAddrs); err == nil {
			return c, nil
		}
	}
	return Config{}, fmt.Errorf("dcos-dns config %s: %w", path, err)
}

// ConfigFromFile is DefaultConfig with what f sets, as dcos-dns reads it:
// the upstreams, the forwarded zones, the Mesos-DNS servers and the
// listen addresses, bind_ips (or, when none, dcos-dns's 198.51.100.1-3
// and every address addrs finds, of bind_interface alone when it names
// one), minus bind_ip_blacklist, on udp_port (53 when missing; tcp_port
// must be the same). Addresses served that are not on the spartan link or
// loopback (the node's underlay address) answer the cluster zones only,
// as every listen address does (see Config.DNS.RecursionNets).
func ConfigFromFile(f File, addrs func(iface string) ([]netip.Addr, error)) (Config, error) {
	c := DefaultConfig()
	for _, u := range f.UpstreamResolvers {
		if _, err := forward.ParseServer(u); err != nil {
			return Config{}, fmt.Errorf("field %q: %w", "upstream_resolvers", err)
		}
	}
	if len(f.UpstreamResolvers) > 0 {
		c.DNS.Upstreams = slices.Clone(f.UpstreamResolvers)
	}
	zones, err := f.forwardZones()
	if err != nil {
		return Config{}, err
	}
	c.DNS.ForwardZones = zones
	if len(f.MesosResolvers) > 0 {
		c.DNS.MesosDNS = slices.Clone(f.MesosResolvers)
	}
	for _, b := range []struct {
		name string
		v    *bool
	}{{"udp_server_enabled", f.UDPServerEnabled}, {"tcp_server_enabled", f.TCPServerEnabled}} {
		if b.v != nil && !*b.v {
			return Config{}, fmt.Errorf("field %q: false, but dcnet-dns always serves UDP and TCP", b.name)
		}
	}
	port := defaultFilePort
	if f.UDPPort != nil {
		port = *f.UDPPort
	}
	if f.TCPPort != nil && *f.TCPPort != port {
		return Config{}, fmt.Errorf("fields \"udp_port\" %d and \"tcp_port\" %d: dcnet-dns serves UDP and TCP on one port, give the same", port, *f.TCPPort)
	}
	if port < 1 || port > 65535 {
		return Config{}, fmt.Errorf("field \"udp_port\" %d: out of range [1, 65535]", port)
	}
	ips, err := f.bindIPs(addrs)
	if err != nil {
		return Config{}, err
	}
	c.DNS.Listen = nil
	for _, ip := range ips {
		c.DNS.Listen = append(c.DNS.Listen, netip.AddrPortFrom(ip, uint16(port)).String())
	}
	if len(c.DNS.Listen) == 0 {
		return Config{}, errors.New("no address left to serve: bind_ips, or the node's addresses, all in bind_ip_blacklist")
	}
	return c, c.Validate()
}

// bindIPs are the addresses to serve, sorted, without the blacklist.
func (f File) bindIPs(addrs func(string) ([]netip.Addr, error)) ([]netip.Addr, error) {
	black, err := parseIPs("field \"bind_ip_blacklist\": address", f.BindIPBlacklist)
	if err != nil {
		return nil, err
	}
	ips, err := parseIPs("field \"bind_ips\": address", f.BindIPs)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		for _, l := range dnsapi.DefaultListen() {
			ips = append(ips, netip.MustParseAddrPort(l).Addr())
		}
		found, err := addrs(f.BindInterface)
		if err != nil {
			return nil, fmt.Errorf("the node's addresses (bind_ips empty): %w", err)
		}
		ips = append(ips, found...)
	}
	var out []netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		if !slices.Contains(black, ip) && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, nil
}

// InterfaceAddrs are the IPv4 addresses of every interface of this host
// (of iface alone, when not ""), as dcos-dns finds them (it binds IPv4:
// bind_ips and bind_ip_blacklist take IPv4 addresses; an IPv6 address
// still in duplicate address detection could not be bound anyway).
func InterfaceAddrs(iface string) ([]netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	found := iface == ""
	for _, i := range ifs {
		if iface != "" && i.Name != iface {
			continue
		}
		found = true
		as, err := i.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", i.Name, err)
		}
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() && !ip.Unmap().IsLinkLocalUnicast() {
					out = append(out, ip.Unmap())
				}
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("bind_interface %q: no such interface", iface)
	}
	return out, nil
}
