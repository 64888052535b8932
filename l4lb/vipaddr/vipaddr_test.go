package vipaddr

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// testRange4 is dcos-net's test range (max_named_ip under -ifdef(TEST)):
// 11.0.0.0-11.0.0.254, Qtty 254.
var testRange4 = Range{Min: netip.MustParseAddr("11.0.0.0"), Max: netip.MustParseAddr("11.0.0.254")}

// TestDCOSVectors checks the addresses of dcos_l4lb_lashup_vip_listener_SUITE:
// named VIPs /foo of bar, /baz of qux (IPv4, test range) and /qux of ipv6
// (IPv6, default range), none colliding.
func TestDCOSVectors(t *testing.T) {
	tests := []struct {
		r    Range
		name string
		want string
	}{
		{testRange4, "foo.bar.l4lb.thisdcos.directory", "11.0.0.37"},
		{testRange4, "baz.qux.l4lb.thisdcos.directory", "11.0.0.39"},
		{Default6, "qux.ipv6.l4lb.thisdcos.directory", "fd01:c::6d6d:9c64:fd19:f251"},
	}
	for _, tt := range tests {
		if got := tt.r.Start(Term(tt.name)); got != netip.MustParseAddr(tt.want) {
			t.Errorf("%s in %s: %s, want %s", tt.name, tt.r, got, tt.want)
		}
	}
	if q := Default4.Qtty().Int64(); q != 16777214 {
		t.Errorf("default IPv4 Qtty %d, want 16777214", q)
	}
	if q := Default6.Qtty().Uint64(); q != 1<<64-1 {
		t.Errorf("default IPv6 Qtty %d, want 2^64-1", q)
	}
}

func TestNext(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		r        Range
		from, to string
	}{
		{testRange4, "11.0.0.37", "11.0.0.38"},
		{testRange4, "11.0.0.254", "11.0.0.0"}, // Max wraps to Min
		{testRange4, "10.0.0.1", "11.0.0.0"},   // outside: Min
		{Default4, "11.0.255.255", "11.1.0.0"},
		{Default4, "11.255.255.254", "11.0.0.0"},
		{Default6, "fd01:c::ffff:ffff:ffff:ffff", "fd01:c::"},
		{Default6, "fd01:c::ffff", "fd01:c::1:0"},
	}
	for _, tt := range tests {
		if got := tt.r.Next(a(tt.from)); got != a(tt.to) {
			t.Errorf("Next(%s) in %s = %s, want %s", tt.from, tt.r, got, tt.to)
		}
	}
}

func TestTerm(t *testing.T) {
	for in, want := range map[string]string{
		"foo.bar.l4lb.thisdcos.directory":               "foo.bar",
		"foo.bar.l4lb.thisdcos.directory.":              "foo.bar",
		"mygroupmyapp.marathon.l4lb.thisdcos.directory": "mygroupmyapp.marathon",
		"web.l4lb.thisdcos.directory":                   "web",
	} {
		if got := Term(in); got != want {
			t.Errorf("Term(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRangeValidate(t *testing.T) {
	a := netip.MustParseAddr
	for _, r := range []Range{{}, {Min: a("11.0.0.0"), Max: a("fd01::1")}, {Min: a("11.0.0.5"), Max: a("11.0.0.5")}} {
		if err := r.Validate(); err == nil {
			t.Errorf("Range %s validated", r)
		}
	}
	for _, r := range []Range{Default4, Default6, testRange4} {
		if err := r.Validate(); err != nil {
			t.Errorf("Range %s: %v", r, err)
		}
	}
}

// randomNames returns n names from a fixed seed: DNS-ish names of 0-80
// characters, and one in eight arbitrary bytes (phash2 takes any binary).
func randomNames(n int) [][]byte {
	rng := rand.New(rand.NewPCG(13, 2024))
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-."
	out := make([][]byte, n)
	for i := range out {
		b := make([]byte, rng.IntN(81))
		for j := range b {
			if i%8 == 7 {
				b[j] = byte(rng.UintN(256))
			} else {
				b[j] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		out[i] = b
	}
	return out
}

// TestPhash2Reference compares Phash2 with refPhash2, an independent
// transliteration of erts' make_hash2 and block_hash, on 10,000 random
// names and every range the daemon and dcos-net's tests use.
func TestPhash2Reference(t *testing.T) {
	ranges := []uint32{0, 254, 16777214, 1, 7}
	bad := 0
	for _, name := range randomNames(10000) {
		for _, r := range ranges {
			if got, want := Phash2(name, r), refPhash2(name, r); got != want {
				if bad++; bad < 10 {
					t.Errorf("Phash2(%q, %d) = %d, reference %d", name, r, got, want)
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d mismatches", bad)
	}
}

// refPhash2 is erlang:phash2(Bin, Range) written from erts' C source as
// literally as Go allows: make_hash2's binary case (con = HCONST_13 + hash
// with hash 0; an empty binary hashes to con) and block_hash with its
// fall-through tail, then phash2_2's hash % range (range 2^32 as 0).
func refPhash2(bin []byte, rng uint32) uint32 {
	var hash uint32
	con := uint32(0x08d12e65) + hash
	if len(bin) == 0 {
		hash = con
	} else {
		hash = refBlockHash(bin, uint32(len(bin)), con)
	}
	if rng != 0 {
		return hash % rng
	}
	return hash
}

func refBlockHash(k []byte, length, initval uint32) uint32 {
	var a, b, c uint32
	ln := length
	a, b = 0x9e3779b9, 0x9e3779b9
	c = initval
	for ln >= 12 {
		a += uint32(k[0]) + uint32(k[1])<<8 + uint32(k[2])<<16 + uint32(k[3])<<24
		b += uint32(k[4]) + uint32(k[5])<<8 + uint32(k[6])<<16 + uint32(k[7])<<24
		c += uint32(k[8]) + uint32(k[9])<<8 + uint32(k[10])<<16 + uint32(k[11])<<24
		refMix(&a, &b, &c)
		k = k[12:]
		ln -= 12
	}
	c += length
	switch ln {
	case 11:
		c += uint32(k[10]) << 24
		fallthrough
	case 10:
		c += uint32(k[9]) << 16
		fallthrough
	case 9:
		c += uint32(k[8]) << 8
		fallthrough
	case 8:
		b += uint32(k[7]) << 24
		fallthrough
	case 7:
		b += uint32(k[6]) << 16
		fallthrough
	case 6:
		b += uint32(k[5]) << 8
		fallthrough
	case 5:
		b += uint32(k[4])
		fallthrough
	case 4:
		a += uint32(k[3]) << 24
		fallthrough
	case 3:
		a += uint32(k[2]) << 16
		fallthrough
	case 2:
		a += uint32(k[1]) << 8
		fallthrough
	case 1:
		a += uint32(k[0])
	}
	refMix(&a, &b, &c)
	return c
}

func refMix(a, b, c *uint32) {
	*a -= *b
	*a -= *c
	*a ^= *c >> 13
	*b -= *c
	*b -= *a
	*b ^= *a << 8
	*c -= *a
	*c -= *b
	*c ^= *b >> 13
	*a -= *b
	*a -= *c
	*a ^= *c >> 12
	*b -= *c
	*b -= *a
	*b ^= *a << 16
	*c -= *a
	*c -= *b
	*c ^= *b >> 5
	*a -= *b
	*a -= *c
	*a ^= *c >> 3
	*b -= *c
	*b -= *a
	*b ^= *a << 10
	*c -= *a
	*c -= *b
	*c ^= *b >> 15
}
