package mesos

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// ParseState reads one Mesos master state document from r. Unknown fields
// are ignored; malformed JSON, wrong field types and trailing data are
// errors naming the offset or field.
func ParseState(r io.Reader) (State, error) {
	var st State
	dec := json.NewDecoder(r)
	if err := dec.Decode(&st); err != nil {
		return State{}, fmt.Errorf("parse mesos state: %w", describeJSONError(err))
	}
	if tok, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return State{}, fmt.Errorf("parse mesos state: after document: %w", describeJSONError(err))
		}
		return State{}, fmt.Errorf("parse mesos state: unexpected %v after document at offset %d", tok, dec.InputOffset())
	}
	return st, nil
}

// describeJSONError adds the position or field to encoding/json errors.
func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at offset %d: %w", syn.Offset, err)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q: got JSON %s, want %s: %w", typ.Field, typ.Value, typ.Type, err)
	case errors.Is(err, io.EOF):
		return errors.New("empty document")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("truncated document")
	}
	return err
}

// PID is a parsed libprocess PID, "slave(1)@10.0.0.1:5051".
type PID struct {
	// ID is the process ID part, "slave(1)".
	ID string
	// Host is the host part, an IP or a hostname (brackets removed).
	Host string
	// Port is the port.
	Port uint16
}

// ParsePID parses "id@host:port"; IPv6 hosts are bracketed.
func ParsePID(s string) (PID, error) {
	id, hostport, ok := strings.Cut(s, "@")
	if !ok || id == "" {
		return PID{}, fmt.Errorf("parse pid %q: want id@host:port", s)
	}
	host, port, err := SplitHostPort(hostport)
	if err != nil {
		return PID{}, fmt.Errorf("parse pid %q: %w", s, err)
	}
	return PID{ID: id, Host: host, Port: port}, nil
}

// SplitHostPort splits "host:port" or "[v6]:port" into a non-empty host and
// a port number.
func SplitHostPort(hostport string) (string, uint16, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		return "", 0, fmt.Errorf("address %q: empty host", hostport)
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: port %q not in [0, 65535]", hostport, p)
	}
	return host, uint16(port), nil
}

// PortRange is an inclusive range of ports.
type PortRange struct {
	// Begin is the first port.
	Begin uint16
	// End is the last port, >= Begin.
	End uint16
}

// maxPortsPerTask bounds the expansion of port ranges so a hostile document
// cannot make a caller allocate millions of records.
const maxPortsPerTask = 1024

// ParsePortRanges parses the Mesos range string "[31000-31001, 31005-31005]".
// "" and "[]" are no ranges.
func ParsePortRanges(s string) ([]PortRange, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "[]" {
		return nil, nil
	}
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("port ranges %q: want [lo-hi, ...]", s)
	}
	var out []PortRange
	for _, part := range strings.Split(s[1:len(s)-1], ",") {
		part = strings.TrimSpace(part)
		lo, hi, ok := strings.Cut(part, "-")
		if !ok {
			hi = lo // a single port, tolerated
		}
		b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
		if err1 != nil || err2 != nil || e < b {
			return nil, fmt.Errorf("port ranges %q: bad range %q (ports in [0, 65535], lo <= hi)", s, part)
		}
		out = append(out, PortRange{Begin: uint16(b), End: uint16(e)})
	}
	return out, nil
}

// PortList expands the task's port resources into single ports, in the
// document's order; at most maxPortsPerTask ports are accepted.
func (r Resources) PortList() ([]uint16, error) {
	ranges, err := ParsePortRanges(r.Ports)
	if err != nil {
		return nil, err
	}
	var ports []uint16
	for _, pr := range ranges {
		if len(ports)+int(pr.End-pr.Begin)+1 > maxPortsPerTask {
			return nil, fmt.Errorf("port ranges %q: more than %d ports", r.Ports, maxPortsPerTask)
		}
		for p := int(pr.Begin); p <= int(pr.End); p++ {
			ports = append(ports, uint16(p))
		}
	}
	return ports, nil
}
