package marathon

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Resolver turns a task's host name into an address.
type Resolver interface {
	// Resolve returns host's address; host is never an IP literal.
	Resolve(ctx context.Context, host string) (netip.Addr, error)
}

// Cache bounds of the default resolver.
const (
	resolveTTL     = 5 * time.Minute
	resolveTimeout = 2 * time.Second
)

// dnsResolver resolves with the system resolver and caches answers (and
// failures, shorter) so that a list of 1,000 tasks on 50 agents costs 50
// lookups, once.
type dnsResolver struct {
	mu    sync.Mutex
	cache map[string]resolved
}

type resolved struct {
	addr    netip.Addr
	err     error
	expires time.Time
}

// NewResolver returns the system resolver with a cache.
func NewResolver() Resolver { return &dnsResolver{cache: map[string]resolved{}} }

func (r *dnsResolver) Resolve(ctx context.Context, host string) (netip.Addr, error) {
	r.mu.Lock()
	c, ok := r.cache[host]
	r.mu.Unlock()
	if ok && time.Now().Before(c.expires) {
		return c.addr, c.err
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	c = resolved{err: err, expires: time.Now().Add(resolveTTL)}
	if err == nil && len(addrs) > 0 {
		c.addr = addrs[0].Unmap()
		for _, a := range addrs {
			if a.Is4() || a.Is4In6() {
				c.addr = a.Unmap()
				break
			}
		}
	}
	if err != nil {
		c.expires = time.Now().Add(resolveTTL / 10)
	}
	r.mu.Lock()
	r.cache[host] = c
	r.mu.Unlock()
	return c.addr, c.err
}

// hostIP is host as an address: an IP literal itself, else resolved.
func hostIP(ctx context.Context, r Resolver, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	if host == "" || r == nil {
		return netip.Addr{}, nil
	}
	return r.Resolve(ctx, host)
}

// hostLiteral is host when it is an IP literal, else invalid (resolved
// later, with the app's own answer).
func hostLiteral(host string) netip.Addr {
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}
