package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/google/go-cmp/cmp"
)

const (
	testSubnet4 = "9.0.3.0/24"
	testSubnet6 = "fd01:b::3:0:0:0/80"
)

func TestAllocateValidation(t *testing.T) {
	good := pool("dcos", testSubnet4)
	withRange := func(r Range) Pool { return Pool{Network: "dcos", Ranges: []Range{r}} }
	tests := []struct {
		name string
		pool Pool
		req  Request
		want string
	}{
		{"empty network", good, req("", "c1"), `allocate attachment /c1/eth0: network is empty`},
		{"empty containerID", good, req("dcos", ""), `allocate attachment dcos//eth0: containerID is empty`},
		{"empty ifName", good, Request{ID: ID{Network: "dcos", ContainerID: "c1"}},
			`allocate attachment dcos/c1/: ifName is empty`},
		{"NUL in containerID", good, req("dcos", "c\x001"), `allocate attachment dcos/c` + "\x00" + `1/eth0: containerID "c\x001" contains a NUL byte`},
		{"pool of other network", pool("other", testSubnet4), req("dcos", "c1"),
			`allocate attachment dcos/c1/eth0: pool network "other" does not match request network "dcos"`},
		{"no ranges", Pool{Network: "dcos"}, req("dcos", "c1"), `allocate attachment dcos/c1/eth0: pool of network "dcos" has no ranges`},
		{"subnet unset", withRange(Range{}), req("dcos", "c1"),
			`allocate attachment dcos/c1/eth0: pool of network "dcos": range 0: subnet is not set or invalid`},
		{"subnet not masked", withRange(rng("9.0.3.1/24", "9.0.3.1")), req("dcos", "c1"),
			`allocate attachment dcos/c1/eth0: pool of network "dcos": range 0: subnet 9.0.3.1/24 is not masked (has host bits set), want 9.0.3.0/24`},
		{"subnet IPv4-mapped", withRange(rng("::ffff:9.0.3.0/120", "")), req("dcos", "c1"),
			`allocate attachment dcos/c1/eth0: pool of network "dcos": range 0: subnet ::ffff:9.0.3.0/120 is IPv4-mapped IPv6; use the IPv4 form`},
		{"subnet too small", withRange(rng("9.0.3.0/31", "9.0.3.1")), req("dcos", "c1"),
			`allocate attachment dcos/c1/eth0: pool of network "dcos": range 0: subnet 9.0.3.0/31 is too small: need at least 2 host bits`},
		{"gateway unset", withRange(Range{Subnet: netip.MustParsePrefix(testSubnet4)}), req("dcos", "c1"),
			`allocate attachment dcos/c1/eth0: pool of network "dcos": range 0: gateway of subnet 9.0.3.0/24 is not set`},
		{"gateway outside", withRange(rng(testSubnet4, "9.0.4.1")), req("dcos", "c1"),
			`allocate attachment dcos/c1/eth0: pool of network "dcos": range 0: gateway 9.0.4.1 is not inside subnet 9.0.3.0/24`},
		{"gateway of other family", withRange(rng(testSubnet4, "fd01:b::3:0:0:1")), req("dcos", "c1"),
			`allocate attachment dcos/c1/eth0: pool of network "dcos": range 0: gateway fd01:b::3:0:0:1 is not inside subnet 9.0.3.0/24`},
		{"gateway is network address", withRange(rng(testSubnet4, "9.0.3.0")), req("dcos", "c1"),
			`allocate attachment dcos/c1/eth0: pool of network "dcos": range 0: gateway 9.0.3.0 is not a host address of subnet 9.0.3.0/24 (want 9.0.3.1 to 9.0.3.254)`},
		{"gateway is broadcast", withRange(rng(testSubnet4, "9.0.3.255")), req("dcos", "c1"),
			`allocate attachment dcos/c1/eth0: pool of network "dcos": range 0: gateway 9.0.3.255 is not a host address of subnet 9.0.3.0/24 (want 9.0.3.1 to 9.0.3.254)`},
		{"ranges overlap", pool("dcos", testSubnet4, "9.0.3.128/25"), req("dcos", "c1"),
			`allocate attachment dcos/c1/eth0: pool of network "dcos": subnet 9.0.3.128/25 overlaps subnet 9.0.3.0/24`},
	}
	s := openTest(t, true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Allocate(tt.pool, tt.req)
			if err == nil {
				t.Fatal("Allocate succeeded, want error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
	if n, err := s.Count(); err != nil || n != 0 {
		t.Errorf("Count() = %d, %v after invalid requests, want 0", n, err)
	}
}

func TestAllocateAttachment(t *testing.T) {
	labels := map[string]string{"app": "web"}
	ports := []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}
	tests := []struct {
		name string
		pool Pool
		req  Request
		want Attachment
	}{{
		name: "IPv4",
		pool: pool("dcos", testSubnet4),
		req:  req("dcos", "c1"),
		want: Attachment{
			ID:      ID{Network: "dcos", ContainerID: "c1", IfName: "eth0"},
			IPs:     []IP{{Address: "9.0.3.2/24", Gateway: "9.0.3.1"}},
			Created: testTime,
		},
	}, {
		name: "dual stack with labels and ports",
		pool: pool("dcos6", testSubnet4, testSubnet6),
		req: Request{
			ID:      ID{Network: "dcos6", ContainerID: "c1", IfName: "eth1"},
			Runtime: api.RuntimeDocker, Labels: labels, PortMappings: ports,
		},
		want: Attachment{
			ID: ID{Network: "dcos6", ContainerID: "c1", IfName: "eth1"},
			IPs: []IP{
				{Address: "9.0.3.2/24", Gateway: "9.0.3.1"},
				{Address: "fd01:b::3:0:0:2/80", Gateway: "fd01:b::3:0:0:1"},
			},
			Runtime: api.RuntimeDocker, Labels: labels, PortMappings: ports, Created: testTime,
		},
	}, {
		name: "IPv6 with gateway not first",
		pool: Pool{Network: "v6", Ranges: []Range{rng("fd01:c::/120", "fd01:c::2")}},
		req:  req("v6", "c1"),
		want: Attachment{
			ID:      ID{Network: "v6", ContainerID: "c1", IfName: "eth0"},
			IPs:     []IP{{Address: "fd01:c::1/120", Gateway: "fd01:c::2"}},
			Created: testTime,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, true)
			got, created, err := s.Allocate(tt.pool, tt.req)
			if err != nil || !created {
				t.Fatalf("Allocate() created=%v err=%v, want created", created, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Allocate (-want +got):\n%s", diff)
			}
			stored, found, err := s.Get(tt.req.ID)
			if err != nil || !found {
				t.Fatalf("Get() found=%v err=%v", found, err)
			}
			if diff := cmp.Diff(tt.want, stored); diff != "" {
				t.Errorf("Get (-want +got):\n%s", diff)
			}
			checkInvariants(t, s, tt.pool)
		})
	}
}

func TestAllocateIdempotent(t *testing.T) {
	s := openTest(t, true)
	p := pool("dcos", testSubnet4, testSubnet6)
	first := mustAllocate(t, s, p, req("dcos", "c1"))
	again := req("dcos", "c1")
	again.Labels = map[string]string{"changed": "yes"}
	again.Runtime = api.RuntimeCNI
	s.now = func() time.Time { return testTime.Add(time.Hour) }
	got, created, err := s.Allocate(p, again)
	if err != nil || created {
		t.Fatalf("second Allocate() created=%v err=%v, want existing", created, err)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("second Allocate changed the attachment (-first +second):\n%s", diff)
	}
	if n, _ := s.Count(); n != 1 {
		t.Errorf("Count() = %d, want 1", n)
	}
}

func TestAllocateSkipsReserved(t *testing.T) {
	tests := []struct {
		name  string
		rng   Range
		want  []string
		inUse int
	}{
		{"IPv4 gateway first", rng("9.0.3.0/29", ""), []string{"9.0.3.2", "9.0.3.3", "9.0.3.4", "9.0.3.5", "9.0.3.6"}, 5},
		{"IPv4 gateway last", rng("9.0.3.0/29", "9.0.3.6"), []string{"9.0.3.1", "9.0.3.2", "9.0.3.3", "9.0.3.4", "9.0.3.5"}, 5},
		{"IPv4 gateway middle", rng("9.0.3.8/30", "9.0.3.10"), []string{"9.0.3.9"}, 1},
		{"IPv6 gateway first", rng("fd01:b::/125", ""), []string{"fd01:b::2", "fd01:b::3", "fd01:b::4", "fd01:b::5", "fd01:b::6"}, 5},
		{"IPv6 gateway middle", rng("fd01:b::/126", "fd01:b::1"), []string{"fd01:b::2"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, true)
			p := Pool{Network: "dcos", Ranges: []Range{tt.rng}}
			var got []string
			for i := range len(tt.want) {
				got = append(got, addrs(t, mustAllocate(t, s, p, req("dcos", fmt.Sprint("c", i))))...)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("addresses (-want +got):\n%s", diff)
			}
			_, _, err := s.Allocate(p, req("dcos", "one-too-many"))
			want := fmt.Sprintf("allocate attachment dcos/one-too-many/eth0: subnet %s of network dcos has no free address (%d in use)", tt.rng.Subnet, tt.inUse)
			if !errors.Is(err, ErrExhausted) || err.Error() != want {
				t.Errorf("Allocate on full range: %v, want %q wrapping ErrExhausted", err, want)
			}
			checkInvariants(t, s, p)
		})
	}
}

func TestAllocateConcurrent(t *testing.T) {
	const n = 200
	s := openTest(t, false)
	p := pool("dcos", testSubnet4, testSubnet6)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, _, err := s.Allocate(p, req("dcos", fmt.Sprint("c", i))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c, _ := s.Count(); c != n {
		t.Errorf("Count() = %d, want %d", c, n)
	}
	checkInvariants(t, s, p) // includes: no address held twice
	if b := s.batches.Load(); b >= n/2 {
		t.Errorf("%d allocations took %d transactions, want group commit to batch them", n, b)
	}
}

func TestAllocateFillsSlash24(t *testing.T) {
	const usable = 253 // 254 hosts minus the gateway
	s := openTest(t, true)
	p := pool("dcos", testSubnet4)
	var wg sync.WaitGroup
	for i := range usable {
		wg.Go(func() {
			if _, _, err := s.Allocate(p, req("dcos", fmt.Sprint("c", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	checkInvariants(t, s, p)
	_, _, err := s.Allocate(p, req("dcos", "last"))
	want := "allocate attachment dcos/last/eth0: subnet 9.0.3.0/24 of network dcos has no free address (253 in use)"
	if !errors.Is(err, ErrExhausted) || err.Error() != want {
		t.Errorf("Allocate on full /24: %v, want %q", err, want)
	}
}

func TestAllocateMultiRangeAtomic(t *testing.T) {
	s := openTest(t, true)
	// The IPv6 range has 1 usable address, the IPv4 range 253.
	p := pool("dcos", testSubnet4, "fd01:b::/126")
	mustAllocate(t, s, p, req("dcos", "c1"))
	_, _, err := s.Allocate(p, req("dcos", "c2"))
	if !errors.Is(err, ErrExhausted) {
		t.Fatalf("Allocate with full IPv6 range: %v, want ErrExhausted", err)
	}
	if _, found, _ := s.Get(req("dcos", "c2").ID); found {
		t.Error("failed attachment c2 was stored")
	}
	checkInvariants(t, s, p) // fails if c2's IPv4 address stayed in the index
	// The IPv4 cursor did not move either: after c1 is gone, c3 gets .3.
	if _, _, err := s.Release(req("dcos", "c1").ID); err != nil {
		t.Fatal(err)
	}
	got := addrs(t, mustAllocate(t, s, p, req("dcos", "c3")))
	if diff := cmp.Diff([]string{"9.0.3.3", "fd01:b::2"}, got); diff != "" {
		t.Errorf("addresses after failed allocation (-want +got):\n%s", diff)
	}
}
