package haproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// DefaultCommandTimeout bounds one batch of commands when the context has
// no deadline.
const DefaultCommandTimeout = 30 * time.Second

// prompt ends every reply in prompt mode.
const prompt = "\n> "

// Command is one CLI command, with an optional payload (the `<<` syntax:
// the payload's lines follow the command line and an empty line ends them).
type Command struct {
	Line    string
	Payload string
}

// String is the command line, without its payload.
func (c Command) String() string { return c.Line }

// Transport carries CLI commands to one HAProxy socket.
type Transport interface {
	// Exec sends cmds, in order, on one connection and returns one reply
	// per command, trimmed of the prompt. An error means the connection
	// failed; the replies received before it are returned with it.
	Exec(ctx context.Context, cmds []Command) ([]string, error)
}

// UnixTransport talks to a HAProxy CLI on a unix socket (the stats socket
// or the master CLI). Each Exec dials anew: a reload replaces the process
// behind the socket.
type UnixTransport struct {
	Path string
}

var _ Transport = (*UnixTransport)(nil)

// Exec implements Transport: a single command in non-interactive mode
// (the master CLI's prompt differs from the stats socket's), a batch in
// prompt mode.
func (u *UnixTransport) Exec(ctx context.Context, cmds []Command) ([]string, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCommandTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", u.Path)
	if err != nil {
		return nil, fmt.Errorf("haproxy cli %s: %w", u.Path, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	// Write in the background while replies are read: a batch larger than
	// the socket buffers would otherwise deadlock.
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := bufio.NewWriter(conn)
		werr = writeBatch(w, cmds)
		if werr == nil {
			werr = w.Flush()
		}
		// The master CLI answers a lone command but closes only once the
		// client is done writing.
		if uc, ok := conn.(*net.UnixConn); ok && werr == nil {
			uc.CloseWrite()
		}
	}()
	out, rerr := io.ReadAll(conn)
	wg.Wait()
	if len(cmds) == 1 {
		if err := errors.Join(rerr, werr); err != nil {
			return nil, fmt.Errorf("haproxy cli %s: %s: %w", u.Path, cmds[0].Line, err)
		}
		return []string{cleanReply(string(out))}, nil
	}
	replies, perr := splitReplies(out, len(cmds))
	if perr != nil {
		return replies, fmt.Errorf("haproxy cli %s: %w", u.Path, errors.Join(perr, rerr, werr))
	}
	return replies, nil
}

// writeBatch writes one command alone (non-interactive: HAProxy answers
// and closes), or "prompt", the commands and "quit".
func writeBatch(w io.Writer, cmds []Command) error {
	var b bytes.Buffer
	if len(cmds) > 1 {
		b.WriteString("prompt\n")
	}
	for _, c := range cmds {
		b.WriteString(c.Line)
		if c.Payload != "" {
			b.WriteString(" <<\n")
			b.WriteString(SanitizePayload(c.Payload))
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if len(cmds) > 1 {
		b.WriteString("quit\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// SanitizePayload drops empty lines and carriage returns from a payload,
// which must not contain an empty line (it would end the payload early).
func SanitizePayload(p string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.ReplaceAll(p, "\r", ""), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
	}
	return b.String()
}

// splitReplies splits prompt-mode output into the replies of n commands:
// the first prompt answers "prompt" itself, then each reply ends with one.
func splitReplies(out []byte, n int) ([]string, error) {
	parts := strings.Split(string(out), prompt)
	if len(parts) > 0 {
		parts = parts[1:] // the reply to "prompt" is empty
	}
	replies := make([]string, 0, n)
	for i := 0; i < len(parts) && i < n; i++ {
		replies = append(replies, cleanReply(parts[i]))
	}
	if len(replies) < n || len(parts) < n+1 {
		// The last reply is complete only when a prompt followed it.
		complete := len(parts) - 1
		if complete < 0 {
			complete = 0
		}
		if complete > n {
			complete = n
		}
		return replies[:min(len(replies), complete)], fmt.Errorf("connection closed after %d of %d replies", complete, n)
	}
	return replies, nil
}

// cleanReply strips the "+ " echoes of payload lines and surrounding
// whitespace.
func cleanReply(s string) string {
	s = strings.TrimLeft(s, "+ ")
	return strings.TrimSpace(s)
}

// FakeTransport answers commands from a function, for unit tests. It
// records every command line it was sent.
type FakeTransport struct {
	mu sync.Mutex
	// Answer returns the reply to one command; an error fails the batch
	// from that command on, as a closed connection would.
	Answer func(c Command) (string, error)
	sent   []string
}

var _ Transport = (*FakeTransport)(nil)

// Exec implements Transport.
func (f *FakeTransport) Exec(ctx context.Context, cmds []Command) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var replies []string
	for _, c := range cmds {
		f.sent = append(f.sent, c.Line)
		r, err := f.Answer(c)
		if err != nil {
			return replies, err
		}
		replies = append(replies, r)
	}
	return replies, nil
}

// Sent returns the command lines sent so far, one per line, and forgets
// them.
func (f *FakeTransport) Sent() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := strings.Join(f.sent, "\n")
	f.sent = nil
	return s
}
