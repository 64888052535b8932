package haproxy

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestBatchChecksReplies(t *testing.T) {
	ft := &FakeTransport{Answer: func(c Command) (string, error) {
		switch {
		case strings.HasSuffix(c.Line, "addr 9.0.0.2 port 80"):
			return "IP changed from '127.0.0.1' to '9.0.0.2', port changed from '1' to '80' by 'stats socket command'", nil
		case strings.Contains(c.Line, "be/s9"):
			return "No such server.", nil
		case strings.HasPrefix(c.Line, "prepare map"):
			return "New version created: 7", nil
		case strings.HasPrefix(c.Line, "show"):
			return "", errors.New("connection closed")
		}
		return "", nil
	}}
	r := &Runtime{T: ft}
	ops := []Op{
		SetServerAddr("be", "s1", netip.MustParseAddrPort("9.0.0.2:80")),
		SetServerState("be", "s9", StateReady),
		SetServerWeight("be", "s1", 3),
		PrepareMap("/m.map"),
		{Cmd: Command{Line: "show info"}, OK: anyReply},
		SetServerState("be", "s1", StateReady),
	}
	errs, err := r.Batch(context.Background(), ops)
	if err == nil {
		t.Fatal("Batch: no error for the closed connection")
	}
	var re *ReplyError
	if errs[0] != nil || !errors.As(errs[1], &re) || re.Reply != "No such server." || errs[2] != nil || errs[3] != nil || errs[4] == nil || errs[5] == nil {
		t.Errorf("per-op errors = %v", errs)
	}
	want := "set server be/s1 addr 9.0.0.2 port 80\nset server be/s9 state ready\nset server be/s1 weight 3\nprepare map /m.map\nshow info"
	if got := ft.Sent(); got != want {
		t.Errorf("sent:\n%s\nwant:\n%s", got, want)
	}
	if v, err := ParsePrepared("New version created: 7"); err != nil || v != 7 {
		t.Errorf("ParsePrepared = %d, %v", v, err)
	}
}

func TestAddMapEntriesChunks(t *testing.T) {
	var entries []MapEntry
	for i := 0; i < 2000; i++ {
		entries = append(entries, MapEntry{Key: strings.Repeat("h", 10) + ".example/" + string(rune('a'+i%26)), Value: "backend_with_a_long_name"})
	}
	ops := AddMapEntries("/m.map", 3, entries)
	if len(ops) < 2 {
		t.Fatalf("%d ops for %d entries, want several payloads", len(ops), len(entries))
	}
	total := 0
	for _, op := range ops {
		if len(op.Cmd.Payload) > maxPayload {
			t.Errorf("payload of %d bytes, more than %d", len(op.Cmd.Payload), maxPayload)
		}
		if op.Cmd.Line != "add map @3 /m.map" {
			t.Errorf("line %q", op.Cmd.Line)
		}
		total += strings.Count(op.Cmd.Payload, "\n")
	}
	if total != len(entries) {
		t.Errorf("%d entries in payloads, want %d", total, len(entries))
	}
}
