package zkleader

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/dcnet/dcnet/dns/mesos"
)

// DefaultPort is ZooKeeper's client port, used when a server has none.
const DefaultPort = "2181"

// infoPrefix starts the name of a contender's MasterInfo znode in JSON.
const infoPrefix = "json.info_"

// URL is a parsed zk:// URL.
type URL struct {
	// Servers are the ZooKeeper servers, "host:port".
	Servers []string
	// Path is the election path, "/mesos".
	Path string
	// Auth is "user:password" for ZooKeeper's digest scheme, or "".
	Auth string
}

// String renders the URL as Mesos writes it, without the password.
func (u URL) String() string {
	auth := ""
	if u.Auth != "" {
		user, _, _ := strings.Cut(u.Auth, ":")
		auth = user + ":***@"
	}
	return "zk://" + auth + strings.Join(u.Servers, ",") + u.Path
}

// ParseURL parses "zk://[user:password@]host[:port][,host[:port]...]/path"
// (port 2181 when missing; the path must not be "/").
func ParseURL(s string) (URL, error) {
	rest, ok := strings.CutPrefix(s, "zk://")
	if !ok {
		return URL{}, fmt.Errorf("zk %q: want zk://host:port[,host:port...]/path", s)
	}
	hosts, path, ok := strings.Cut(rest, "/")
	path = "/" + strings.TrimRight(path, "/")
	if !ok || path == "/" {
		return URL{}, fmt.Errorf("zk %q: no znode path (Mesos uses /mesos)", s)
	}
	var u URL
	u.Path = path
	if at := strings.LastIndexByte(hosts, '@'); at >= 0 {
		u.Auth, hosts = hosts[:at], hosts[at+1:]
		if !strings.Contains(u.Auth, ":") {
			return URL{}, fmt.Errorf("zk %q: credentials %q: want user:password", s, u.Auth)
		}
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == "" {
			return URL{}, fmt.Errorf("zk %q: empty server", s)
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil { // no port
			host, port = strings.Trim(h, "[]"), DefaultPort
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
			return URL{}, fmt.Errorf("zk %q: server %q: want host:port, port in [1, 65535]", s, h)
		}
		u.Servers = append(u.Servers, net.JoinHostPort(host, port))
	}
	return u, nil
}

// Masters are the contenders of a Mesos election.
type Masters struct {
	// Leader is the leading master's "ip:port"; "" when none leads.
	Leader string
	// All are every contender's "ip:port", the leader first, then in
	// sequence order, without duplicates.
	All []string
}

// Equal reports whether m and o are the same.
func (m Masters) Equal(o Masters) bool { return m.Leader == o.Leader && slices.Equal(m.All, o.All) }

// masterInfo is the part of Mesos's MasterInfo (JSON) that locates it.
type masterInfo struct {
	// IP is the IPv4 address in the host's byte order (Mesos < 0.24 only).
	IP      uint32 `json:"ip"`
	Port    int    `json:"port"`
	PID     string `json:"pid"`
	Address *struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
	} `json:"address"`
}

// ParseMasterInfo returns the "ip:port" of a MasterInfo JSON document: its
// address (Mesos >= 0.24), else the host of its PID if an IP, else its
// little-endian "ip" field with its port (as Mesos-DNS reads it on x86).
func ParseMasterInfo(data []byte) (string, error) {
	var mi masterInfo
	if err := json.Unmarshal(data, &mi); err != nil {
		return "", fmt.Errorf("master info: %w", err)
	}
	if a := mi.Address; a != nil && a.IP != "" {
		ip, err := netip.ParseAddr(a.IP)
		if err != nil || a.Port < 1 || a.Port > 65535 {
			return "", fmt.Errorf("master info: address %q port %d: want an IP and a port in [1, 65535]", a.IP, a.Port)
		}
		return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port)).String(), nil
	}
	if mi.PID != "" {
		if p, err := mesos.ParsePID(mi.PID); err == nil {
			if ip, err := netip.ParseAddr(p.Host); err == nil {
				return netip.AddrPortFrom(ip.Unmap(), p.Port).String(), nil
			}
		}
	}
	if mi.IP != 0 && mi.Port > 0 && mi.Port <= 65535 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], mi.IP)
		return netip.AddrPortFrom(netip.AddrFrom4(b), uint16(mi.Port)).String(), nil
	}
	return "", errors.New("master info: no address, IP PID or ip and port")
}

// Leading chooses among the children of an election path: the json.info_
// nodes in sequence order, each read with get and located with
// ParseMasterInfo; the first one read is the leader. A node that vanished
// or does not parse is skipped (get's or ParseMasterInfo's errors are
// returned with the result, for logging). No contender is no leader.
func Leading(children []string, get func(name string) ([]byte, error)) (Masters, []error) {
	type contender struct {
		seq  uint64
		name string
	}
	var cs []contender
	for _, c := range children {
		digits, ok := strings.CutPrefix(c, infoPrefix)
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			continue
		}
		cs = append(cs, contender{seq, c})
	}
	slices.SortFunc(cs, func(a, b contender) int {
		if a.seq < b.seq {
			return -1
		}
		if a.seq > b.seq {
			return 1
		}
		return 0
	})
	var m Masters
	var errs []error
	for _, c := range cs {
		data, err := get(c.name)
		if err == nil {
			var addr string
			if addr, err = ParseMasterInfo(data); err == nil {
				if m.Leader == "" {
					m.Leader = addr
				}
				if !slices.Contains(m.All, addr) {
					m.All = append(m.All, addr)
				}
				continue
			}
		}
		errs = append(errs, fmt.Errorf("znode %s: %w", c.name, err))
	}
	return m, errs
}
