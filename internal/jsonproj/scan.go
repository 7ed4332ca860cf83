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

// hasZero reports (as a non-zero word) whether any byte of x is zero. It is exact as a
// yes/no answer: with no zero byte there is no borrow and the result is 0.
func hasZero(x uint64) uint64 { return (x - lsb) & ^x & msb }

// hasByte reports whether any byte of x equals c.
func hasByte(x uint64, c byte) uint64 { return hasZero(x ^ (lsb * uint64(c))) }

// hasLess reports whether any byte of x is below n (n <= 128).
func hasLess(x uint64, n byte) uint64 { return (x - lsb*uint64(n)) & ^x & msb }

// plainRun returns the index of the first byte at or after i that is '"', '\\', a control
// character or not ASCII, or len(b).
func plainRun(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := hasByte(x, '"') | hasByte(x, '\\') | hasLess(x, 0x20) | (x & msb); m != 0 {
			// the lowest flagged byte is always a real match (borrows only reach upward)
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
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
	for i+8 <= len(s) {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if m := hasByte(x, '"') | hasByte(x, '\\') | hasByte(x, '<') | hasByte(x, '>') | hasByte(x, '&') | hasLess(x, 0x20) | (x & msb); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(s) {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return i
		}
		i++
	}
	return i
}
