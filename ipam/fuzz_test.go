package ipam

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Fuzz op encoding: the top two bits of a byte pick the op, the low four the
// attachment (eight per network), bit 4 the network of a GC.
const (
	fuzzOpBits      = 6
	fuzzIDMask      = 0x0f
	fuzzNetworkBit  = 0x10
	fuzzIDsPerNet   = 8
	fuzzOpRelease   = 2
	fuzzOpGC        = 3
	fuzzGCKeepRatio = 3 // GC keeps an ID unless (7*index+byte) % 3 == 0
)

// fuzzPools: "fz" has a 13-address IPv4 range (gateway in the middle) and a
// 5-address IPv6 range, so the IPv6 range runs out while IPv4 has room; "fy"
// has a single usable address.
var fuzzPools = []Pool{
	{Network: "fz", Ranges: []Range{rng("9.0.3.0/28", "9.0.3.7"), rng("fd01:b::/125", "")}},
	{Network: "fy", Ranges: []Range{rng("9.0.4.0/30", "")}},
}

// fuzzUsable is how many attachments each fuzz network can hold.
var fuzzUsable = map[string]int{"fz": 5, "fy": 1}

func fuzzID(i int) ID {
	return ID{Network: fuzzPools[i/fuzzIDsPerNet].Network, ContainerID: fmt.Sprint("c", i%fuzzIDsPerNet), IfName: "eth0"}
}

// FuzzAllocateRelease drives random allocate, release and GC sequences and
// checks after each step the answers against a model of the live attachments,
// and the store's invariants (see checkInvariants).
func FuzzAllocateRelease(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 0x80, 0x40, 0x82, 8, 9, 0x88, 0xc0})
	f.Add([]byte{0, 1, 2, 3, 4, 5, 0x81, 5, 6, 0xc3, 0xd1, 8, 9, 0x89, 9})
	f.Add([]byte{8, 9, 0x88, 9, 0x89, 0x89, 0xd0, 0xff, 0x3f, 0x40})
	f.Fuzz(func(t *testing.T, ops []byte) {
		s := openTest(t, true)
		live := map[ID]Attachment{}
		perNet := func(network string) int {
			n := 0
			for id := range live {
				if id.Network == network {
					n++
				}
			}
			return n
		}
		for step, b := range ops {
			i := int(b & fuzzIDMask)
			id := fuzzID(i)
			switch b >> fuzzOpBits {
			case fuzzOpRelease:
				got, released, err := s.Release(id)
				want, wasLive := live[id]
				if err != nil || released != wasLive || !cmp.Equal(got, want) {
					t.Fatalf("step %d: Release(%s) = %v, %v, %v; want %v, %v", step, id, got, released, err, want, wasLive)
				}
				delete(live, id)
			case fuzzOpGC:
				network := fuzzPools[0].Network
				if b&fuzzNetworkBit != 0 {
					network = fuzzPools[1].Network
				}
				var valid []ID
				var want []ID
				for j := range len(fuzzPools) * fuzzIDsPerNet {
					keep := (7*j+int(b))%fuzzGCKeepRatio != 0
					if keep {
						valid = append(valid, fuzzID(j))
					} else if _, ok := live[fuzzID(j)]; ok && fuzzID(j).Network == network {
						want = append(want, fuzzID(j))
					}
				}
				released, err := s.GC(network, "", valid)
				var got []ID
				for _, a := range released {
					got = append(got, a.ID)
					if !cmp.Equal(a, live[a.ID]) {
						t.Fatalf("step %d: GC(%s) released %v, was %v", step, network, a, live[a.ID])
					}
					delete(live, a.ID)
				}
				if diff := cmp.Diff(want, got); err != nil || diff != "" {
					t.Fatalf("step %d: GC(%s): %v; released (-want +got):\n%s", step, network, err, diff)
				}
			default:
				got, created, err := s.Allocate(fuzzPools[i/fuzzIDsPerNet], Request{ID: id})
				old, wasLive := live[id]
				full := !wasLive && perNet(id.Network) == fuzzUsable[id.Network]
				switch {
				case full:
					if !errors.Is(err, ErrExhausted) {
						t.Fatalf("step %d: Allocate(%s) on a full pool: %v, want ErrExhausted", step, id, err)
					}
				case err != nil || created == wasLive || (wasLive && !cmp.Equal(got, old)):
					t.Fatalf("step %d: Allocate(%s) = %v, created=%v, %v; live before: %v", step, id, got, created, err, wasLive)
				default:
					live[id] = got
				}
			}
			checkInvariants(t, s, fuzzPools...)
			if n, _ := s.Count(); n != len(live) {
				t.Fatalf("step %d: Count() = %d, model has %d", step, n, len(live))
			}
		}
	})
}
