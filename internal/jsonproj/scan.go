package jsonproj

import (
	"encoding/binary"
	"math/bits"
)

// Word-at-a-time scanning: eight bytes are tested at once for the bytes that end a plain
// run, and the first such byte is located from the mask; the last bytes of a buffer shorter
// than a word are tested one by one.

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// The masks below flag a byte by setting its top bit: x itself flags bytes that are not
// ASCII, x-0x20 a byte below 0x20, (x^c)-1 a byte equal to c. A byte with its top bit clear
// can only be flagged wrongly by a borrow, and a borrow starts at a byte that is flagged
// rightly below it, so the lowest flagged byte is always a real match.

// plainRun returns the index of the first byte at or after i that is '"', '\\', a control
// character or not ASCII, or len(b).
func plainRun(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i : i+8])
		if m := ((x - lsb*0x20) | ((x ^ lsb*'"') - lsb) | ((x ^ lsb*'\\') - lsb) | x) & msb; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
			return i
		}
		i++
	}
	return i
}

// htmlSafeRun returns the index of the first byte at or after i of s that appendString
// must look at: '"', '\\', '<', '>', '&', a control character or not ASCII; or len(s).
func htmlSafeRun(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		// '<' (0x3c) and '>' (0x3e) differ only in bit 1: one test for both
		if m := ((x - lsb*0x20) | ((x ^ lsb*'"') - lsb) | ((x ^ lsb*'\\') - lsb) |
			((x^lsb*'<')&^(lsb*2) - lsb) | ((x ^ lsb*'&') - lsb) | x) & msb; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(s) {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return i
		}
		i++
	}
	return i
}
