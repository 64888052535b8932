package vipzone

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/server"
)

// Zone is the l4lb.thisdcos.directory zone fed key by key from a mirror of
// Prefix; it implements server.Lister and cluster.Sink.
type Zone struct {
	*server.AddrZone
	log *slog.Logger

	// gate, when set, holds back a name until this node programmed one of
	// its addresses (SetGate).
	gate Gate
	// mu serialises the gate's bookkeeping (the mirror's goroutine and the
	// retry timer).
	mu sync.Mutex
	// held are names (with their newest addresses) waiting for the gate.
	held map[string]server.NameAddrs
	// admitted are, per name, the addresses the gate confirmed for it; a
	// name with one of them passes without a question. Forgotten with the
	// name, so an address reused by another VIP is asked about again.
	admitted map[string]map[netip.Addr]bool
	retry    *time.Timer
	backoff  time.Duration
	failOpen bool // the last question failed: logged once until a success
	// gateDown is set when a question failed during the current pass: the
	// rest of the pass serves without asking, so a hung dcnet-l4lb costs
	// one timeout per pass, not one per name.
	gateDown bool
}

// Bounds of the re-check of held names.
const (
	gateRetryMin = 5 * time.Millisecond
	gateRetryMax = time.Second
)

var (
	_ server.Lister = (*Zone)(nil)
	_ cluster.Sink  = (*Zone)(nil)
)

// New returns an empty zone; log (nil: discarded) receives skipped values.
func New(log *slog.Logger) *Zone {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Zone{AddrZone: server.NewAddrZone(server.L4LBZone), log: log}
}

// SetGate makes the zone hold back every name until g says this node has
// programmed at least one of its addresses: a record in etcd only proves
// that some node programmed the VIP, and a client here must not get an
// address its own node does not answer yet. Held names are asked again
// from 5 ms, backing off to 1 s. When g cannot tell (an error: no
// dcnet-l4lb on this node), names are served. Call before the mirror runs.
func (z *Zone) SetGate(g Gate) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.gate = g
	z.held = map[string]server.NameAddrs{}
	z.admitted = map[string]map[netip.Addr]bool{}
}

// Held returns how many names wait for the gate.
func (z *Zone) Held() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return len(z.held)
}

// Reset implements cluster.Sink: the zone becomes exactly the names of kvs
// (those the gate lets through; the others follow when it does).
func (z *Zone) Reset(kvs []cluster.Change) {
	set, _ := z.decode(kvs)
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.gate != nil {
		z.held = map[string]server.NameAddrs{}
		keep := make(map[string]bool, len(set))
		for _, na := range set {
			keep[na.Name] = true
		}
		for name := range z.admitted {
			if !keep[name] {
				delete(z.admitted, name)
			}
		}
		set = z.admit(set)
		// A held name that is served now keeps its current answer until
		// the gate admits the new one, as with Update.
		for name := range z.held {
			if cur := z.AddrZone.Addrs(name); len(cur) > 0 {
				set = append(set, server.NameAddrs{Name: name, Addrs: cur})
			}
		}
	}
	z.AddrZone.Reset(set)
}

// Update implements cluster.Sink: each changed key replaces or removes its
// name; a value that does not decode leaves its name as it was.
func (z *Zone) Update(changes []cluster.Change) {
	set, _ := z.decode(changes)
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.gate != nil {
		set = z.admit(set)
	}
	z.AddrZone.Apply(set)
}

// admit returns the names of set that may be served now and holds the
// others; removals always pass. Callers hold z.mu.
func (z *Zone) admit(set []server.NameAddrs) []server.NameAddrs {
	z.gateDown = false
	out := set[:0]
	for _, na := range set {
		delete(z.held, na.Name)
		if len(na.Addrs) == 0 {
			delete(z.admitted, na.Name)
			out = append(out, na)
			continue
		}
		if z.ready(na.Name, na.Addrs) {
			out = append(out, na)
			continue
		}
		z.held[na.Name] = na
	}
	if len(z.held) > 0 && z.retry == nil {
		z.backoff = gateRetryMin
		z.retry = time.AfterFunc(z.backoff, z.recheck)
	}
	return out
}

// ready reports whether one of addrs is programmed on this node, asking
// the gate about addresses not admitted yet. Callers hold z.mu.
func (z *Zone) ready(name string, addrs []netip.Addr) bool {
	for _, a := range addrs {
		if z.admitted[name][a] {
			return true
		}
	}
	if z.gateDown {
		return true
	}
	for _, a := range addrs {
		ctx, cancel := context.WithTimeout(context.Background(), DefaultGateTimeout)
		ok, err := z.gate.Programmed(ctx, a)
		cancel()
		if err != nil {
			z.gateDown = true
			if !z.failOpen {
				z.log.Warn("vip names: cannot ask this node's dcnet-l4lb whether a VIP is programmed; serving names without waiting", "err", err)
				z.failOpen = true
			}
			return true
		}
		z.failOpen = false
		if ok {
			if z.admitted[name] == nil {
				z.admitted[name] = map[netip.Addr]bool{}
			}
			z.admitted[name][a] = true
			return true
		}
	}
	return false
}

// recheck asks the gate again about the held names and serves those that
// are ready; it reschedules itself with a longer delay while some remain.
func (z *Zone) recheck() {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.gateDown = false
	var ready []server.NameAddrs
	for name, na := range z.held {
		if z.ready(name, na.Addrs) {
			ready = append(ready, na)
			delete(z.held, name)
		}
	}
	z.AddrZone.Apply(ready)
	if len(z.held) == 0 {
		z.retry = nil
		return
	}
	z.backoff = min(2*z.backoff, gateRetryMax)
	z.retry = time.AfterFunc(z.backoff, z.recheck)
}

func (z *Zone) decode(kvs []cluster.Change) (set []server.NameAddrs, skipped int) {
	set = make([]server.NameAddrs, 0, len(kvs))
	for _, kv := range kvs {
		na, bad, err := Decode(kv.Key, kv.Value)
		if err != nil {
			z.log.Warn("vip names: skipped a malformed record", "key", kv.Key, "err", err)
			skipped++
			continue
		}
		if bad > 0 {
			z.log.Warn("vip names: skipped malformed addresses", "key", kv.Key, "skipped", bad)
			skipped += bad
		}
		set = append(set, na)
	}
	return set, skipped
}

// Decode reads one named VIP record (cluster.VIPName) at key: its name
// is the key below Prefix (the record's own name, when set, must be the
// same), fully qualified, inside l4lb.thisdcos.directory and not its apex.
// A nil value (a deleted key) is the name without addresses. Addresses
// that do not parse are dropped and counted in bad.
func Decode(key string, value []byte) (na server.NameAddrs, bad int, err error) {
	name := dns.CanonicalName(strings.TrimPrefix(key, cluster.VIPNamesPrefix))
	if _, ok := dns.IsDomainName(name); !ok || !strings.HasPrefix(key, cluster.VIPNamesPrefix) || !dns.IsSubDomain(server.L4LBZone, name) || name == server.L4LBZone {
		return na, 0, fmt.Errorf("vip name key %q: not a name inside %s", key, server.L4LBZone)
	}
	na.Name = name
	if value == nil {
		return na, 0, nil
	}
	var rec cluster.VIPName
	if err := json.Unmarshal(value, &rec); err != nil {
		return na, 0, fmt.Errorf("vip name %s: %w", name, err)
	}
	if rec.Name != "" && dns.CanonicalName(rec.Name) != name {
		return na, 0, fmt.Errorf("vip name key %q holds the record of %q", key, rec.Name)
	}
	for _, a := range rec.Addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.Zone() != "" {
			bad++
			continue
		}
		na.Addrs = append(na.Addrs, ip.Unmap())
	}
	return na, bad, nil
}

// Watch returns a zone fed by a mirror of Prefix on s, and the mirror; run
// the mirror (cluster.Mirror.Run) to fill the zone.
func Watch(s *cluster.Store, log *slog.Logger) (*Zone, *cluster.Mirror) {
	z := New(log)
	return z, cluster.NewMirror(s, cluster.VIPNamesPrefix, z, log)
}
