package vipaddr

// Constants of erts' make_hash2 (erts/emulator/beam/utils.c).
const (
	// hconst is Bob Jenkins' golden ratio, the initial a and b of block_hash.
	hconst uint32 = 0x9e3779b9
	// hconst13 is HCONST * 13 mod 2^32, the seed make_hash2 gives a binary.
	hconst13 uint32 = 0x08d12e65
	// jenkinsBlock is how many bytes one block_hash round takes.
	jenkinsBlock = 12
)

// Hash2 is erts' make_hash2 of the Erlang binary b (erlang:phash2/1 before
// its 27-bit mask): block_hash(b, len(b), HCONST_13), or HCONST_13 for the
// empty binary.
func Hash2(b []byte) uint32 {
	if len(b) == 0 {
		return hconst13
	}
	return blockHash(b, hconst13)
}

// Phash2 is erlang:phash2(Binary, Range) for the binary b: Hash2(b) mod
// rng, in [0, rng). A rng of 0 stands for 2^32 (Erlang's largest range)
// and returns Hash2(b) whole.
func Phash2(b []byte, rng uint32) uint32 {
	h := Hash2(b)
	if rng == 0 {
		return h
	}
	return h % rng
}

// blockHash is erts' block_hash: Bob Jenkins' lookup2 hash of k with
// initval as the previous hash.
func blockHash(k []byte, initval uint32) uint32 {
	a, b, c := hconst, hconst, initval
	n := len(k)
	for len(k) >= jenkinsBlock {
		a += le32(k[0:4])
		b += le32(k[4:8])
		c += le32(k[8:12])
		a, b, c = mix(a, b, c)
		k = k[jenkinsBlock:]
	}
	c += uint32(n)
	// The tail: bytes 0-3 into a, 4-7 into b, 8-10 into c above its
	// lowest byte (which holds the length).
	for i, x := range k {
		v := uint32(x)
		switch {
		case i < 4:
			a += v << (8 * i)
		case i < 8:
			b += v << (8 * (i - 4))
		default:
			c += v << (8 * (i - 7))
		}
	}
	_, _, c = mix(a, b, c)
	return c
}

// le32 reads 4 bytes little-endian, as block_hash adds them.
func le32(p []byte) uint32 {
	return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24
}

// mix is lookup2's MIX(a, b, c).
func mix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= b
	a -= c
	a ^= c >> 13
	b -= c
	b -= a
	b ^= a << 8
	c -= a
	c -= b
	c ^= b >> 13
	a -= b
	a -= c
	a ^= c >> 12
	b -= c
	b -= a
	b ^= a << 16
	c -= a
	c -= b
	c ^= b >> 5
	a -= b
	a -= c
	a ^= c >> 3
	b -= c
	b -= a
	b ^= a << 10
	c -= a
	c -= b
	c ^= b >> 15
	return a, b, c
}
