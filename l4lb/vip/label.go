package vip

import (
	"cmp"
	"net/netip"
	"strconv"
	"strings"
)

// Label key prefixes. A port label is a VIP label when its key starts with
// VIP or vip (VIP_0, VIP_1, vip0, ...); a task label is the VIP_PORT<n>
// form when its key, lower-cased, starts with vip_port.
const (
	keyPrefixUpper = "VIP"
	keyPrefixLower = "vip"
	taskKeyPrefix  = "vip_port"
)

// maxTaskPortIndex bounds the <n> of VIP_PORT<n>: Mesos tasks never hold
// more port resources than there are ports.
const maxTaskPortIndex = 65535

// LabelError says which label is malformed and why.
type LabelError struct {
	Key    string // label key; empty when only a value was parsed
	Value  string
	Reason string
	// OtherProtocol is set when the value names a protocol (udp://...)
	// other than the labelled port's: the label is then not malformed, it
	// declares no VIP for this port (the port of that protocol, which a
	// Marathon port of protocol "udp,tcp" also has, carries it).
	OtherProtocol bool
}

// Error renders the error as `vip label VIP_0="/web:0": port 0`.
func (e *LabelError) Error() string {
	if e.Key == "" {
		return "vip " + strconv.Quote(e.Value) + ": " + e.Reason
	}
	return "vip label " + e.Key + "=" + strconv.Quote(e.Value) + ": " + e.Reason
}

// IsVIPKey reports whether a port label key declares a VIP: it starts with
// "VIP" or "vip" (mixed case such as "Vip_0" does not, as in dcos-net).
func IsVIPKey(key string) bool {
	return strings.HasPrefix(key, keyPrefixUpper) || strings.HasPrefix(key, keyPrefixLower)
}

// IsTaskKey reports whether a task label key is of the VIP_PORT<n> form
// (case-insensitive).
func IsTaskKey(key string) bool {
	return len(key) >= len(taskKeyPrefix) && strings.EqualFold(key[:len(taskKeyPrefix)], taskKeyPrefix)
}

// ParseLabel parses one port label (Mesos DiscoveryInfo port label,
// Marathon portDefinitions label, endpoint label) for a port of the given
// protocol ("" when the source has none: the value's scheme, else tcp).
// ok is false, with no error, when key is not a VIP key or the value names
// the other protocol than the port's.
func ParseLabel(key, value, protocol, framework string) (v VIP, ok bool, err error) {
	if !IsVIPKey(key) {
		return VIP{}, false, nil
	}
	v, err = ParseValue(value, protocol, framework)
	if err != nil {
		le := err.(*LabelError)
		if le.OtherProtocol {
			return VIP{}, false, nil
		}
		le.Key = key
		return VIP{}, true, err
	}
	return v, true, nil
}

// SplitProtocol splits a label value of the form tcp://name:port or
// udp://name:port (scheme in any case) into the protocol, lower-cased,
// and the rest; ok is false when value has no such scheme.
func SplitProtocol(value string) (protocol, rest string, ok bool) {
	scheme, rest, found := strings.Cut(value, "://")
	scheme = strings.ToLower(scheme)
	if !found || (scheme != ProtoTCP && scheme != ProtoUDP) {
		return "", value, false
	}
	return scheme, rest, true
}

// ParseTaskLabel parses a task label VIP_PORT<n>=tcp://name:port (or
// udp://): index is n, the position of the port among the task's port
// resources. ok is false, with no error, when key is not of that form.
func ParseTaskLabel(key, value, framework string) (index int, v VIP, ok bool, err error) {
	if !IsTaskKey(key) {
		return 0, VIP{}, false, nil
	}
	fail := func(reason string) (int, VIP, bool, error) {
		return 0, VIP{}, true, &LabelError{Key: key, Value: value, Reason: reason}
	}
	digits := key[len(taskKeyPrefix):]
	index, convErr := strconv.Atoi(digits)
	if convErr != nil || index < 0 || index > maxTaskPortIndex || digits[0] == '+' || digits[0] == '-' {
		return fail("port index " + strconv.Quote(digits) + " is not a number in [0, 65535]")
	}
	proto, rest, found := strings.Cut(value, "://")
	proto = strings.ToLower(proto)
	if !found || (proto != ProtoTCP && proto != ProtoUDP) {
		return fail("want tcp://name:port or udp://name:port")
	}
	v, err = ParseValue(rest, proto, framework)
	if err != nil {
		le := err.(*LabelError)
		le.Key, le.Value = key, value
		return 0, VIP{}, true, le
	}
	return index, v, true, nil
}

// ParseValue parses a VIP label value: name:port, /name:port,
// /group/name:port (named VIP of framework) or 1.2.3.4:80, fd01:c::5:8080,
// [fd01:c::5]:8080 (IP VIP; the port follows the last ':'), each
// optionally behind tcp:// or udp://, which names the VIP's protocol.
// protocol is the protocol of the labelled port, "tcp" or "udp" (any
// case), or "" when the source has none (then the scheme, else tcp). A
// scheme that names the other protocol than a given one is a LabelError
// with OtherProtocol set. Errors are *LabelError.
func ParseValue(value, protocol, framework string) (VIP, error) {
	orig := value
	fail := func(reason string) (VIP, error) {
		return VIP{}, &LabelError{Value: orig, Reason: reason}
	}
	proto := strings.ToLower(protocol)
	if scheme, rest, ok := SplitProtocol(value); ok {
		if proto != "" && proto != scheme {
			return VIP{}, &LabelError{Value: orig, Reason: "names " + scheme + ", the port is " + proto, OtherProtocol: true}
		}
		proto, value = scheme, rest
	}
	proto = cmp.Or(proto, ProtoTCP)
	if proto != ProtoTCP && proto != ProtoUDP {
		return fail("protocol " + strconv.Quote(protocol) + " is not tcp or udp")
	}
	i := strings.LastIndexByte(value, ':')
	if i < 0 {
		return fail("missing :port")
	}
	host, portStr := value[:i], value[i+1:]
	port, err := parsePort(portStr)
	if err != "" {
		return fail(err)
	}
	if host == "" {
		return fail("empty name")
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		ip, perr := netip.ParseAddr(host[1 : len(host)-1])
		if perr != nil || !ip.Is6() {
			return fail("bad IPv6 address " + strconv.Quote(host))
		}
		host = host[1 : len(host)-1]
	}
	if ip, perr := netip.ParseAddr(host); perr == nil {
		if ip.Zone() != "" {
			return fail("IP VIP " + strconv.Quote(host) + " has a zone")
		}
		return VIP{IP: ip.Unmap(), Port: port, Protocol: proto}, nil
	}
	if strings.ContainsRune(host, ':') {
		return fail("too many colons: " + strconv.Quote(host) + " is not an IP address and a name holds no ':'")
	}
	if sanitizeName(host) == "" {
		return fail("name " + strconv.Quote(host) + " has no DNS-safe characters")
	}
	return VIP{Name: host, Framework: framework, Port: port, Protocol: proto}, nil
}

// parsePort parses a decimal port in [1, 65535]; it returns a reason when
// the port is bad.
func parsePort(s string) (uint16, string) {
	if s == "" {
		return 0, "empty port"
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, "bad port " + strconv.Quote(s) + ": want a number in [1, 65535]"
	}
	if n == 0 {
		return 0, "port 0"
	}
	return uint16(n), ""
}
