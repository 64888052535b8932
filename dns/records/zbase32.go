package records

import (
	"crypto/sha1"
	"strings"
)

// zbase32Alphabet is the human-oriented base-32 alphabet of
// http://philzimmermann.com/docs/human-oriented-base-32-encoding.txt.
const zbase32Alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769"

// taskHashLen is how many zbase32 characters of the task ID hash go into a
// task's canonical name.
const taskHashLen = 5

// zbase32 encodes b most significant bit first, 5 bits per character,
// padding the last character's bits with zeros and emitting no padding
// characters.
func zbase32(b []byte) string {
	var out strings.Builder
	out.Grow((len(b)*8 + 4) / 5)
	var acc uint32
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out.WriteByte(zbase32Alphabet[(acc>>uint(bits))&0x1f])
		}
	}
	if bits > 0 {
		out.WriteByte(zbase32Alphabet[(acc<<uint(5-bits))&0x1f])
	}
	return out.String()
}

// taskHash is the first 5 characters of zbase32(sha1(taskID)), the hash in
// canonical task names.
func taskHash(taskID string) string {
	sum := sha1.Sum([]byte(taskID))
	return zbase32(sum[:])[:taskHashLen]
}
