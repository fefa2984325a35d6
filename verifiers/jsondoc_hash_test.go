package verifiers

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUpperASCII8: the eight-byte upper-casing changes a-z and nothing else,
// for every byte value in every position.
func TestUpperASCII8(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			var b [8]byte
			for k := range b {
				b[k] = byte(c + 31*k) // other bytes around it
			}
			b[pos] = byte(c)
			got := binary.LittleEndian.Uint64(b[:])
			got = upperASCII8(got)
			var want [8]byte
			for k, x := range b {
				if 'a' <= x && x <= 'z' {
					x -= 'a' - 'A'
				}
				want[k] = x
			}
			require.Equal(t, binary.LittleEndian.Uint64(want[:]), got, "byte %#x at %d in %q", c, pos, b[:])
		}
	}
}

// TestNameHashFoldsOnlyLetters: names that fold alike hash alike, and names
// that differ in bit 0x20 outside the letters ("@" and "`", "[" and "{")
// do not share a hash (they did, which made a body of such names collide
// in one slot whatever the table size).
func TestNameHashFoldsOnlyLetters(t *testing.T) {
	hashes := func(body string) []uint64 {
		d, err := readJSONDoc([]byte(body))
		require.NoError(t, err, body)
		defer d.release()
		var folded []string
		var out []uint64
		for i := 1; i < len(d.nodes); i++ {
			out = append(out, d.nameHash(i, &folded))
		}
		return out
	}
	h := hashes(`{"order_ID_with_a_long_name":1,"x":{"Order_id_WITH_A_LONG_NAME":2}}`)
	require.Len(t, h, 3) // the two members of the top object and the one of x
	h2 := hashes(`{"ORDER_ID_WITH_A_LONG_NAME":1}`)
	require.Equal(t, h2[0], h[0], "upper and lower case of one name")
	for _, pair := range [][2]string{{"@", "`"}, {"[", "{"}, {"]", "}"}, {"^", "~"}, {"@@@@@@@@@", "`@@@@@@@@"}, {"00000000", "00000001"}} {
		h := hashes(fmt.Sprintf(`{%q:1,%q:2}`, pair[0], pair[1]))
		require.NotEqual(t, h[0], h[1], "%q and %q", pair[0], pair[1])
	}
}

// TestUniqueNamesStaysLinearOnCollidingNames: a 64 KiB body of names made of
// '@' and '`' (which hashed alike before) or of sequential digits is read
// with about as many table probes as members: measured by counting how
// often two names share a slot's start, not by time.
func TestUniqueNamesStaysLinearOnCollidingNames(t *testing.T) {
	for _, names := range [][]string{collidingNames(16, 3000), sequentialNames(3000)} {
		var b strings.Builder
		b.WriteByte('{')
		for i, n := range names {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:0", n)
		}
		b.WriteByte('}')
		d, err := readJSONDoc([]byte(b.String()))
		require.NoError(t, err)
		var folded []string
		seen := map[uint64]int{}
		for i := 1; i < len(d.nodes); i++ {
			seen[d.nameHash(i, &folded)]++
		}
		d.release()
		require.Greater(t, len(seen), len(names)*99/100, "distinct hashes of %d names like %q", len(names), names[0])
	}
}

func collidingNames(length, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		b := make([]byte, length)
		for k := range b {
			b[k] = '@'
			if i>>k&1 == 1 {
				b[k] = '`'
			}
		}
		out = append(out, string(b))
	}
	return out
}

func sequentialNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%08d", i)
	}
	return out
}
