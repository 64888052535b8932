package haproxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ServerState is an administrative state a server can be set to.
type ServerState string

// Administrative states of `set server ... state`.
const (
	StateReady ServerState = "ready"
	StateDrain ServerState = "drain"
	StateMaint ServerState = "maint"
)

// maxPayload bounds one payload: HAProxy keeps a payload in one buffer
// (tune.bufsize, 16 kB by default) with the command line.
const maxPayload = 12 * 1024

// Runtime builds runtime-API commands and checks their replies. It holds
// no state; Batch sends many commands on one connection.
type Runtime struct {
	T Transport
}

// ReplyError is a command HAProxy refused, with its answer.
type ReplyError struct {
	Command string
	Reply   string
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("haproxy refused %q: %s", e.Command, oneLine(e.Reply))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// Op is one runtime command with the check of its reply.
type Op struct {
	Cmd Command
	// OK tells a successful reply from a refusal.
	OK func(reply string) bool
}

// Batch sends ops on one connection and returns one error per op (nil when
// HAProxy accepted it); err is set when the connection failed, and ops
// without a reply then carry it too.
func (r *Runtime) Batch(ctx context.Context, ops []Op) (errs []error, err error) {
	cmds := make([]Command, len(ops))
	for i, op := range ops {
		cmds[i] = op.Cmd
	}
	replies, err := r.T.Exec(ctx, cmds)
	errs = make([]error, len(ops))
	for i, op := range ops {
		if i >= len(replies) {
			errs[i] = fmt.Errorf("%s: no reply: %w", op.Cmd.Line, err)
			continue
		}
		if !op.OK(replies[i]) {
			errs[i] = &ReplyError{Command: op.Cmd.Line, Reply: replies[i]}
		}
	}
	return errs, err
}

// Do sends one op and returns HAProxy's reply.
func (r *Runtime) Do(ctx context.Context, op Op) (string, error) {
	replies, err := r.T.Exec(ctx, []Command{op.Cmd})
	if err != nil {
		return "", err
	}
	if len(replies) != 1 {
		return "", fmt.Errorf("%s: no reply", op.Cmd.Line)
	}
	if !op.OK(replies[0]) {
		return replies[0], &ReplyError{Command: op.Cmd.Line, Reply: replies[0]}
	}
	return replies[0], nil
}

func empty(reply string) bool { return reply == "" }

func contains(s string) func(string) bool {
	return func(reply string) bool { return strings.Contains(reply, s) }
}

func anyReply(string) bool { return true }

// SetServerAddr points server srv of backend be at addr.
func SetServerAddr(be, srv string, addr netip.AddrPort) Op {
	return Op{
		Cmd: Command{Line: fmt.Sprintf("set server %s/%s addr %s port %d", be, srv, addr.Addr(), addr.Port())},
		OK: func(r string) bool {
			return strings.Contains(r, "changed from") || strings.Contains(r, "no need to change")
		},
	}
}

// SetServerState sets the administrative state of be/srv.
func SetServerState(be, srv string, st ServerState) Op {
	return Op{Cmd: Command{Line: fmt.Sprintf("set server %s/%s state %s", be, srv, st)}, OK: empty}
}

// SetServerWeight sets the weight of be/srv.
func SetServerWeight(be, srv string, w int) Op {
	return Op{Cmd: Command{Line: fmt.Sprintf("set server %s/%s weight %d", be, srv, w)}, OK: empty}
}

// PrepareMap allocates a new version of map path; its reply carries the
// version (see ParsePrepared).
func PrepareMap(path string) Op {
	return Op{Cmd: Command{Line: "prepare map " + path}, OK: contains("New version created:")}
}

// ParsePrepared reads the version from the reply of PrepareMap.
func ParsePrepared(reply string) (uint32, error) {
	_, v, ok := strings.Cut(reply, "New version created:")
	if !ok {
		return 0, fmt.Errorf("prepare map: unexpected reply %q", oneLine(reply))
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("prepare map: version in %q: %w", oneLine(reply), err)
	}
	return uint32(n), nil
}

// MapEntry is one key and value of a map file.
type MapEntry struct {
	Key, Value string
}

// AddMapEntries adds entries to version ver of map path, in as many payload
// commands as the payload limit needs.
func AddMapEntries(path string, ver uint32, entries []MapEntry) []Op {
	var ops []Op
	var b strings.Builder
	flush := func() {
		if b.Len() == 0 {
			return
		}
		ops = append(ops, Op{Cmd: Command{Line: fmt.Sprintf("add map @%d %s", ver, path), Payload: b.String()}, OK: empty})
		b.Reset()
	}
	for _, e := range entries {
		line := e.Key + " " + e.Value + "\n"
		if b.Len()+len(line) > maxPayload {
			flush()
		}
		b.WriteString(line)
	}
	flush()
	return ops
}

// CommitMap makes version ver of map path the one matched against.
func CommitMap(path string, ver uint32) Op {
	return Op{Cmd: Command{Line: fmt.Sprintf("commit map @%d %s", ver, path)}, OK: empty}
}

// NewSSLCert creates an empty certificate store for path (a new
// certificate, to be set, committed and added to a crt-list).
func NewSSLCert(path string) Op {
	return Op{Cmd: Command{Line: "new ssl cert " + path}, OK: contains("New empty certificate store")}
}

// SetSSLCert opens (or updates) a transaction replacing certificate path
// with pem.
func SetSSLCert(path string, pem []byte) Op {
	return Op{Cmd: Command{Line: "set ssl cert " + path, Payload: string(pem)}, OK: contains("Transaction ")}
}

// CommitSSLCert commits the transaction on certificate path.
func CommitSSLCert(path string) Op {
	return Op{Cmd: Command{Line: "commit ssl cert " + path}, OK: contains("Success!")}
}

// AbortSSLCert drops the transaction on certificate path, if any.
func AbortSSLCert(path string) Op {
	return Op{Cmd: Command{Line: "abort ssl cert " + path}, OK: anyReply}
}

// AddCrtList adds certificate path to crt-list list.
func AddCrtList(list, path string) Op {
	return Op{Cmd: Command{Line: fmt.Sprintf("add ssl crt-list %s %s", list, path)}, OK: contains("Success!")}
}

// DelCrtList removes certificate path from crt-list list.
func DelCrtList(list, path string) Op {
	return Op{Cmd: Command{Line: fmt.Sprintf("del ssl crt-list %s %s", list, path)}, OK: contains("deleted")}
}

// DelSSLCert deletes the (unused) certificate store path.
func DelSSLCert(path string) Op {
	return Op{Cmd: Command{Line: "del ssl cert " + path}, OK: contains("deleted")}
}

// ErrPayloadTooLarge says a payload is larger than HAProxy takes in one
// command.
var ErrPayloadTooLarge = errors.New("payload larger than the CLI buffer")

// CheckPayload says whether p fits in one payload command.
func CheckPayload(p []byte) error {
	if len(SanitizePayload(string(p))) > maxPayload {
		return fmt.Errorf("%w (%d bytes, at most %d)", ErrPayloadTooLarge, len(p), maxPayload)
	}
	return nil
}

// ShowInfo returns `show info` as key/value pairs.
func (r *Runtime) ShowInfo(ctx context.Context) (map[string]string, error) {
	reply, err := r.Do(ctx, Op{Cmd: Command{Line: "show info"}, OK: contains("Pid:")})
	if err != nil {
		return nil, err
	}
	info := map[string]string{}
	for _, line := range strings.Split(reply, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			info[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return info, nil
}

// ShowServersState returns `show servers state` parsed.
func (r *Runtime) ShowServersState(ctx context.Context) ([]ServerStatus, error) {
	reply, err := r.Do(ctx, Op{Cmd: Command{Line: "show servers state"}, OK: func(s string) bool { return strings.HasPrefix(s, "1") }})
	if err != nil {
		return nil, err
	}
	return ParseServersState(reply)
}

// ShowStat returns `show stat` (CSV) parsed into one row per proxy or
// server.
func (r *Runtime) ShowStat(ctx context.Context) ([]StatRow, error) {
	reply, err := r.Do(ctx, Op{Cmd: Command{Line: "show stat"}, OK: contains("# pxname")})
	if err != nil {
		return nil, err
	}
	return ParseStat(reply)
}
