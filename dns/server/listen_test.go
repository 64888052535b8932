package server

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestRunUDPAndTCP serves the handler on a loopback port and checks the
// truncated UDP answer and the complete TCP one through real clients.
func TestRunUDPAndTCP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- Run(ctx, []string{addr}, testHandler(t, nil), func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	q := query("big.marathon.l4lb.thisdcos.directory.", dns.TypeA)
	udp := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	resp, _, err := udp.Exchange(q, addr)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Truncated || len(resp.Answer) >= 200 {
		t.Errorf("udp: TC %v with %d answers, want a truncated answer", resp.Truncated, len(resp.Answer))
	}
	tcp := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	resp, _, err = tcp.Exchange(q, addr)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Truncated || len(resp.Answer) != 200 {
		t.Errorf("tcp: TC %v with %d answers, want all 200", resp.Truncated, len(resp.Answer))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
	if err := Run(context.Background(), []string{"256.0.0.1:53"}, testHandler(t, nil), nil); err == nil {
		t.Error("want an error for a bad listen address")
	}
}

// TestOptionsSockets: Sockets 0 means GOMAXPROCS, as dcnet-dns's --sockets
// 0 does; 1 is one socket; Run asks for one.
func TestOptionsSockets(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want int
	}{
		{Options{}, runtime.GOMAXPROCS(0)},
		{Options{Sockets: -1}, runtime.GOMAXPROCS(0)},
		{Options{Sockets: 1}, 1},
		{Options{Sockets: 3}, 3},
	} {
		if got := tc.o.sockets(); got != tc.want {
			t.Errorf("Options{Sockets: %d}: %d sockets, want %d", tc.o.Sockets, got, tc.want)
		}
	}
}
