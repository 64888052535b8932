package mesoszone

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Host name resolution for the generator.
const (
	// hostCacheTTL is how long a host name's addresses (or their absence)
	// are reused: a state of many agents named by host name costs one
	// lookup per name per TTL, not per poll.
	hostCacheTTL = 30 * time.Second
	// lookupTimeout bounds one lookup.
	lookupTimeout = 2 * time.Second
)

// systemLookup resolves host with the system resolver, every address.
func systemLookup(host string) []netip.Addr {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	return ips
}

// hostCache memoises a lookup function for hostCacheTTL.
type hostCache struct {
	resolve func(string) []netip.Addr
	now     func() time.Time
	mu      sync.Mutex
	m       map[string]hostEntry
	swept   time.Time // last removal of expired entries
}

type hostEntry struct {
	ips []netip.Addr
	at  time.Time
}

func newHostCache(resolve func(string) []netip.Addr) *hostCache {
	return &hostCache{resolve: resolve, now: time.Now, m: map[string]hostEntry{}}
}

// lookup returns host's addresses, cached.
func (c *hostCache) lookup(host string) []netip.Addr {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[host]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < hostCacheTTL {
		return e.ips
	}
	ips := c.resolve(host)
	c.mu.Lock()
	if now.Sub(c.swept) >= hostCacheTTL { // names gone from the state go too
		for h, e := range c.m {
			if now.Sub(e.at) >= hostCacheTTL {
				delete(c.m, h)
			}
		}
		c.swept = now
	}
	c.m[host] = hostEntry{ips: ips, at: now}
	c.mu.Unlock()
	return ips
}

// listenerAddrs are the addresses of a listen host: itself, or for an
// unspecified address every non-loopback address of the host, as
// Mesos-DNS's setFromLocal.
func listenerAddrs(host string) []netip.Addr {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	if !ip.IsUnspecified() {
		return []netip.Addr{ip.Unmap()}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip, ok := netip.AddrFromSlice(n.IP); ok && !ip.Unmap().IsLoopback() {
			out = append(out, ip.Unmap())
		}
	}
	return out
}
