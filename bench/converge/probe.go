package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	cnins "github.com/containernetworking/plugins/pkg/ns"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/miekg/dns"
)

// Probing settings.
const (
	// dnsServer is dcnet-dns's first address on every node.
	dnsServer = "198.51.100.1:53"
	// pollInterval is how often a name is asked: a measured time is late by
	// at most this plus one query.
	pollInterval = 5 * time.Millisecond
	// giveUp bounds the wait for one name; a name not answered by then is a
	// failed start.
	giveUp       = 10 * time.Second
	queryTimeout = 500 * time.Millisecond
	// connectTimeout bounds one TCP connect to a VIP, connectWindow all of
	// them for one VIP.
	connectTimeout = 250 * time.Millisecond
	connectWindow  = 2 * time.Second
	connectRetry   = 20 * time.Millisecond
)

// resolver asks dcnet-dns from inside a netns over one UDP socket made in
// that netns (it keeps belonging to it). One goroutine at a time.
type resolver struct {
	conn   *dns.Conn
	client *dns.Client
}

// newResolver opens a UDP socket to server inside ns; env Close closes it.
func (e *env) newResolver(ns netsim.Namespace, server string) (*resolver, error) {
	var c net.Conn
	if err := ns.Do(func(cnins.NetNS) error {
		var err error
		c, err = net.Dial("udp", server)
		return err
	}); err != nil {
		return nil, fmt.Errorf("udp socket to %s in %s: %w", server, ns.NSName, err)
	}
	e.OnClose(c.Close)
	return &resolver{conn: &dns.Conn{Conn: c}, client: &dns.Client{Net: "udp"}}, nil
}

// lookupA asks name's A records once; NXDOMAIN and an empty answer give
// no addresses and no error.
func (r *resolver) lookupA(ctx context.Context, name string) ([]netip.Addr, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	resp, _, err := r.client.ExchangeWithConnContext(ctx, m, r.conn)
	if err != nil {
		return nil, err
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("%s: rcode %s", name, dns.RcodeToString[resp.Rcode])
	}
	var out []netip.Addr
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.A); ok {
			if addr, ok := netip.AddrFromSlice(a.A); ok {
				out = append(out, addr.Unmap())
			}
		}
	}
	return out, nil
}

// answer is when a name was first answered as wanted, and with what.
type answer struct {
	At      time.Time
	Addrs   []netip.Addr
	Queries int
	Err     error // set when the name was not answered within giveUp
}

// await asks name every pollInterval until want accepts the addresses of
// an answer, for at most giveUp; the result comes on the channel. Start it
// before the event it waits for.
func (r *resolver) await(ctx context.Context, name string, want func([]netip.Addr) bool) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, giveUp)
		defer cancel()
		t := time.NewTicker(pollInterval)
		defer t.Stop()
		var res answer
		var last error
		for {
			res.Queries++
			addrs, err := r.lookupA(ctx, name)
			now := time.Now()
			switch {
			case err != nil:
				last = err
			case want(addrs):
				res.At, res.Addrs = now, addrs
				out <- res
				return
			default:
				last = fmt.Errorf("answer %v", addrs)
			}
			select {
			case <-ctx.Done():
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					res.Err = fmt.Errorf("%s not answered within %v (%d queries; last: %v)", name, giveUp, res.Queries, last)
				} else {
					res.Err = ctx.Err()
				}
				out <- res
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// anyAddr accepts an answer with at least one address.
func anyAddr(addrs []netip.Addr) bool { return len(addrs) > 0 }

// exactly accepts an answer of exactly want.
func exactly(want netip.Addr) func([]netip.Addr) bool {
	return func(addrs []netip.Addr) bool { return len(addrs) == 1 && addrs[0] == want }
}

// connectResult is how a TCP connect to a VIP went.
type connectResult struct {
	OK       bool
	FirstTry bool
	At       time.Time // when the first connect succeeded
	Err      error     // the last failed attempt's error
	FirstErr error     // the first attempt's error, when it failed
}

// connect dials addr from inside ns until one connect succeeds, for at most
// connectWindow.
func connect(ctx context.Context, ns netsim.Namespace, addr string) connectResult {
	dial := ns.DialTCP
	deadline := time.Now().Add(connectWindow)
	var res connectResult
	for try := 0; ; try++ {
		cctx, cancel := context.WithTimeout(ctx, connectTimeout)
		c, err := dial(cctx, addr)
		cancel()
		if err == nil {
			c.Close()
			res.OK, res.FirstTry, res.At, res.Err = true, try == 0, time.Now(), nil
			return res
		}
		if try == 0 {
			res.FirstErr = err
		}
		res.Err = err
		if time.Now().After(deadline) || ctx.Err() != nil {
			return res
		}
		time.Sleep(connectRetry)
	}
}
