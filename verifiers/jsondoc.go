package verifiers

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// A jsonDoc is a JSON body read once, strictly (the rules of CheckJSON), into
// a flat index of its values: the providers read the members they need from
// it instead of decoding the body into maps or reflection-built structs, one
// member at a time. The scanner is written for this job; the decisions are
// those of CheckJSON's earlier jsontext walk (checkJSONTokens, which still
// words the refusals), proven equal by FuzzJSONDoc in jsondoc_test.go.
//
// A doc comes from a pool (readJSONDoc) and goes back to it (release). What
// is read from it does not point into the pool: raw spans are sub-slices of
// the body, and strings are unescaped copies or sub-strings of one
// string(body) conversion made once per doc, which the events keep.
type jsonDoc struct {
	body  []byte
	str   string // string(body), made on the first string read; "" until then
	nodes []jsonNode
	table []int32 // the duplicate-name check's hash table (node index+1)
	// spaced: there is whitespace between the tokens; htmlish: a string
	// may hold a byte json.Marshal escapes. Without either, the body's
	// object is its own compact form.
	spaced, htmlish bool
	stack           [maxJSONDepth + 2]int32
	last            [maxJSONDepth + 2]int32 // per open container, its last child so far
}

// jsonNode is one value of the document. Index 0 is the top-level object;
// since it is nobody's child or sibling, 0 also means "none" in first and
// next.
type jsonNode struct {
	start, end         int32 // the value's bytes in the body
	nameStart, nameEnd int32 // an object member's name, without its quotes
	parent             int32
	first, next        int32 // first child; next sibling (0: none)
	count              int32 // children
	kind               byte  // '{', '[', '"', '0' (a number), 't', 'f', 'n'
	escaped            bool  // a string value holds a backslash escape
	nameEscaped        bool  // the member name holds a backslash escape
	nameASCII          bool  // the member name is all ASCII without escapes
}

// refuseShadowingJSONDoc is RefuseShadowingJSONQuery over a read body.
func refuseShadowingJSONDoc(rawQuery string, d *jsonDoc, documented map[string]bool) error {
	if rawQuery == "" {
		return nil
	}
	root := d.root()
	members := make(map[string]struct{}, root.Len())
	for name := range root.Members {
		members[name] = struct{}{}
	}
	return RefuseShadowingQuery(rawQuery, members, documented)
}

// checkSignedJSONDoc is CheckSignedJSON returning the body read; the caller
// releases it.
func checkSignedJSONDoc(r *Request, authenticate func() error, documented map[string]bool) (*jsonDoc, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	if err := CheckContentType(r.Header.Get("Content-Type"), JSONType); err != nil {
		return nil, err
	}
	if err := authenticate(); err != nil {
		return nil, err
	}
	d, err := readJSONDoc(r.Body)
	if err != nil {
		return nil, err
	}
	if err := refuseShadowingJSONDoc(r.RawQuery, d, documented); err != nil {
		d.release()
		return nil, err
	}
	return d, nil
}

// verifySignedJSONDoc is verifySignedJSONEvent with normalize reading the
// body's top-level object from the read body, which is released after it:
// normalize keeps strings and raw bytes of the body only.
func verifySignedJSONDoc(r *Request, authenticate func() error, documented map[string]bool,
	normalize func(jsonValue, *Request) (Event, error)) ([]Event, error) {
	d, err := checkSignedJSONDoc(r, authenticate, documented)
	if err != nil {
		return nil, err
	}
	defer d.release()
	e, err := normalize(d.root(), r)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

var jsonDocs = sync.Pool{New: func() any { return &jsonDoc{nodes: make([]jsonNode, 0, 128)} }}

// readJSONDoc reads body, which must be one JSON object as CheckJSON wants
// it; the error is CheckJSON's. The caller releases the doc.
func readJSONDoc(body []byte) (*jsonDoc, error) {
	d := jsonDocs.Get().(*jsonDoc)
	d.body = body
	if !d.scan() || !d.uniqueNames() {
		d.release()
		return nil, explainJSON(body)
	}
	return d, nil
}

// release returns d to the pool; nothing read from it may be used after
// that but strings and raw sub-slices of the body.
func (d *jsonDoc) release() {
	if cap(d.nodes) > 1<<14 || cap(d.table) > 1<<15 {
		return // an outsized body's arrays are left to the collector
	}
	d.body, d.str, d.nodes = nil, "", d.nodes[:0]
	jsonDocs.Put(d)
}

// explainJSON is the refusal of a body the scanner refused: the walk
// CheckJSON made with jsontext before, which words each refusal and names
// the offset of a syntax error. FuzzJSONDoc proves that it refuses exactly
// the bodies the scanner refuses; should it not, the refusal stands.
func explainJSON(body []byte) error {
	if err := checkJSONTokens(body); err != nil {
		return err
	}
	return fmt.Errorf("%w: JSON: not accepted", ErrMalformed)
}

// checkJSONTokens is CheckJSON as it was before the scanner: a jsontext
// token walk. It only runs on bodies the scanner refused.
func checkJSONTokens(body []byte) error {
	if !utf8.Valid(body) {
		return fmt.Errorf("%w: body is not valid UTF-8", ErrMalformed)
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: body is not a JSON object", ErrMalformed)
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	var names []*objectNames // per open container: an object's names so far, nil for an array
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return fmt.Errorf("%w: JSON: %v", ErrMalformed, err)
		}
		depth := dec.StackDepth()
		switch kind := tok.Kind(); kind {
		case '{', '[':
			if depth-1 > maxJSONDepth {
				return fmt.Errorf("%w: JSON nested too deep", ErrMalformed)
			}
			if kind == '[' && depth > maxJSONDepth && dec.PeekKind() != ']' {
				return fmt.Errorf("%w: JSON nested too deep", ErrMalformed) // its elements would be
			}
			var keys *objectNames
			if kind == '{' {
				keys = &objectNames{}
			}
			names = append(names, keys)
		case '}', ']':
			names = names[:len(names)-1]
		default:
			if parent, n := dec.StackIndex(depth); parent == '{' && n%2 == 1 {
				// An object member's name.
				if key := tok.String(); !names[len(names)-1].add(key) {
					return fmt.Errorf("%w: JSON key %.40q given twice", ErrMalformed, key)
				}
				if depth > maxJSONDepth {
					return fmt.Errorf("%w: JSON nested too deep", ErrMalformed) // its value would be
				}
				continue
			}
			if depth > maxJSONDepth {
				return fmt.Errorf("%w: JSON nested too deep", ErrMalformed)
			}
		}
		if depth == 0 {
			break // the object is complete
		}
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	return nil
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// scan indexes d.body and reports whether it is one JSON object (RFC 8259,
// as jsontext reads it: valid UTF-8, no lone surrogate escape) with no value
// nested more than maxJSONDepth containers deep, and nothing but
// whitespace after it. Member names are checked by uniqueNames.
func (d *jsonDoc) scan() bool {
	b := d.body
	if len(b) > math.MaxInt32 || !utf8.Valid(b) {
		return false
	}
	i := 0
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	if i == len(b) || b[i] != '{' {
		return false
	}
	depth := 0      // open containers
	spaced := false // whitespace between tokens
	plain := true   // no string holds a byte json.Marshal escapes (<, >, &, U+2028, U+2029)
	defer func() { d.spaced, d.htmlish = spaced, !plain }()
	for {
		// A value starts at i (after a name's colon, a comma, an open bracket, or at the top).
		for i < len(b) && isJSONSpace(b[i]) {
			i++
			spaced = true
		}
		if i == len(b) {
			return false
		}
		idx := int32(len(d.nodes))
		n := jsonNode{start: int32(i), kind: b[i]}
		if depth > 0 {
			if depth > maxJSONDepth {
				return false // a value deeper than the limit
			}
			p := d.stack[depth-1]
			n.parent = p
			parent := &d.nodes[p]
			if parent.count == 0 {
				parent.first = idx
			} else {
				d.nodes[d.last[depth-1]].next = idx
			}
			parent.count++
			d.last[depth-1] = idx
			if parent.kind == '{' {
				// A member: its name, a colon, then the value.
				if b[i] != '"' {
					return false
				}
				end, esc, ascii, html, ok := scanString(b, i)
				if !ok {
					return false
				}
				plain = plain && !html
				n.nameStart, n.nameEnd, n.nameEscaped, n.nameASCII = int32(i+1), int32(end-1), esc, ascii && !esc
				i = end
				for i < len(b) && isJSONSpace(b[i]) {
					i++
					spaced = true
				}
				if i == len(b) || b[i] != ':' {
					return false
				}
				i++
				for i < len(b) && isJSONSpace(b[i]) {
					i++
					spaced = true
				}
				if i == len(b) {
					return false
				}
				n.start, n.kind = int32(i), b[i]
			}
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			d.nodes = append(d.nodes, n)
			d.stack[depth] = idx
			depth++
			i++
			for i < len(b) && isJSONSpace(b[i]) {
				i++
				spaced = true
			}
			if i < len(b) && (c == '{' && b[i] == '}' || c == '[' && b[i] == ']') {
				depth--
				i++
				d.nodes[idx].end = int32(i)
				break // an empty container: its closing handled as a value's end
			}
			continue // its first member or element
		case c == '"':
			end, esc, _, html, ok := scanString(b, i)
			if !ok {
				return false
			}
			plain = plain && !html
			n.end, n.escaped, i = int32(end), esc, end
			d.nodes = append(d.nodes, n)
		case c == '-' || '0' <= c && c <= '9':
			end, ok := scanNumber(b, i)
			if !ok {
				return false
			}
			n.kind, n.end, i = '0', int32(end), end
			d.nodes = append(d.nodes, n)
		case c == 't' || c == 'f' || c == 'n':
			lit := "null"
			if c == 't' {
				lit = "true"
			} else if c == 'f' {
				lit = "false"
			}
			if !bytes.HasPrefix(b[i:], []byte(lit)) {
				return false
			}
			i += len(lit)
			n.end = int32(i)
			d.nodes = append(d.nodes, n)
		default:
			return false
		}
		// After a value: a comma (another value follows) or the closing of
		// containers.
		for {
			if depth == 0 {
				for i < len(b) && isJSONSpace(b[i]) {
					i++
				}
				return i == len(b)
			}
			for i < len(b) && isJSONSpace(b[i]) {
				i++
				spaced = true
			}
			if i == len(b) {
				return false
			}
			open := d.nodes[d.stack[depth-1]].kind
			if b[i] == ',' {
				i++
				break
			}
			if open == '{' && b[i] == '}' || open == '[' && b[i] == ']' {
				i++
				depth--
				d.nodes[d.stack[depth]].end = int32(i)
				continue
			}
			return false
		}
	}
}

// scanString reads the JSON string whose opening quote is at b[i]: the end
// of its closing quote, whether it holds an escape, whether it is all ASCII.
// The body is valid UTF-8 (scan checks it first); control characters and
// bad escapes, including a surrogate escape not in a pair, are refused.
func scanString(b []byte, i int) (end int, escaped, ascii, html, ok bool) {
	ascii = true
	i++
	for i < len(b) {
		for i < len(b) && stringPlain[b[i]] {
			i++
		}
		if i == len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, escaped, ascii, html, true
		case c < 0x20:
			return 0, false, false, false, false
		case c >= 0x80:
			ascii = false
			html = html || c == 0xE2 // U+2028 and U+2029 start with it
			i++
		case c == '<' || c == '>' || c == '&':
			html = true
			i++
		case c != '\\':
			i++
		default:
			escaped = true
			if i+1 >= len(b) {
				return 0, false, false, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok {
					return 0, false, false, false, false
				}
				i += 6
				switch {
				case 0xDC00 <= r && r <= 0xDFFF:
					return 0, false, false, false, false // a low surrogate first
				case 0xD800 <= r && r <= 0xDBFF:
					if i+1 >= len(b) || b[i] != '\\' || b[i+1] != 'u' {
						return 0, false, false, false, false
					}
					lo, ok := hex4(b, i+2)
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return 0, false, false, false, false
					}
					i += 6
				}
			default:
				return 0, false, false, false, false
			}
		}
	}
	return 0, false, false, false, false
}

// stringPlain are the bytes a string holds as themselves and json.Marshal
// does not escape: ASCII, not a control character, a quote, a backslash,
// <, > or &.
var stringPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// hex4 reads the four hex digits of a \u escape at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		h, ok := fromHexChar(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(h)
	}
	return r, true
}

// scanNumber reads the JSON number at b[i:] and returns its end:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	digits := func(i int) int {
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(i + 1)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

// uniqueNames reports whether no object has two member names that are
// equal under simple case folding (foldKey's equivalence, as CheckJSON
// compares them). The members of a small object are compared pairwise;
// those of the others (hashed) are put in one hash table keyed by their
// object and their folded name, so that the work stays linear in the
// members.
func (d *jsonDoc) uniqueNames() bool {
	var folded []string // folded names of the members that are not plain ASCII, by node (lazily)
	large := 0          // members of the objects not compared pairwise
	for i := range d.nodes {
		n := &d.nodes[i]
		if n.kind != '{' || n.count < 2 {
			continue
		}
		if d.hashed(n) {
			large += int(n.count)
			continue
		}
		for a := n.first; a != 0; a = d.nodes[a].next {
			for b := d.nodes[a].next; b != 0; b = d.nodes[b].next {
				if d.sameName(int(a), int(b), &folded) {
					return false
				}
			}
		}
	}
	if large == 0 {
		return true
	}
	size := 1
	for size < 2*large {
		size <<= 1
	}
	if cap(d.table) < size {
		d.table = make([]int32, size)
	} else {
		d.table = d.table[:size]
		clear(d.table)
	}
	mask := uint64(size - 1)
	for i := 1; i < len(d.nodes); i++ {
		n := &d.nodes[i]
		if !d.hashed(&d.nodes[n.parent]) {
			continue // and large counted only these, so the table has room
		}
		h := d.nameHash(i, &folded)
		for slot := h & mask; ; slot = (slot + 1) & mask {
			j := d.table[slot]
			if j == 0 {
				d.table[slot] = int32(i) + 1
				break
			}
			if other := int(j - 1); d.nodes[other].parent == n.parent && d.sameName(other, i, &folded) {
				return false
			}
		}
	}
	return true
}

// hashed reports whether uniqueNames puts the member names of node n in its
// hash table: n is an object of two members or more that is not compared
// pairwise. An object is compared pairwise when it has at most 8 members,
// none of a name over 64 bytes: at most 28 comparisons, most ended by the
// lengths, none longer than 64 bytes. (Without the bound on names, 8 long
// names alike but for their last byte made the check several times slower
// than hashing them.)
func (d *jsonDoc) hashed(n *jsonNode) bool {
	if n.kind != '{' || n.count < 2 {
		return false
	}
	if n.count > 8 {
		return true
	}
	for c := n.first; c != 0; c = d.nodes[c].next {
		if m := &d.nodes[c]; m.nameEnd-m.nameStart > 64 {
			return true
		}
	}
	return false
}

// foldedName returns the member name of node i folded as foldKey folds it,
// for a name that is not plain ASCII.
func (d *jsonDoc) foldedName(i int, folded *[]string) string {
	if *folded == nil {
		*folded = make([]string, len(d.nodes))
	}
	if (*folded)[i] == "" {
		n := &d.nodes[i]
		(*folded)[i] = "\x00" + foldKey(unquoteJSON(d.body[n.nameStart:n.nameEnd], n.nameEscaped)) // "\x00": computed
	}
	return (*folded)[i][1:]
}

// nameHash hashes node i's object and its folded name with hash/maphash,
// under a seed chosen per process: names chosen to collide (a body of
// thousands of them, read before its signature is checked by providers
// that sign items or fields) cannot make the table quadratic. An ASCII name
// is hashed with its lower-case letters made upper case, foldKey's fold of
// it, eight bytes at a time.
func (d *jsonDoc) nameHash(i int, folded *[]string) uint64 {
	n := &d.nodes[i]
	spread := uint64(n.parent) * 0x9E3779B97F4A7C15
	if !n.nameASCII {
		return maphash.String(nameSeed, d.foldedName(i, folded)) + spread
	}
	name := d.body[n.nameStart:n.nameEnd]
	var buf [64]byte
	if len(name) <= len(buf) {
		// Most names: one call, without maphash.Hash's buffer.
		return maphash.Bytes(nameSeed, upperASCII(buf[:len(name)], name)) + spread
	}
	var mh maphash.Hash
	mh.SetSeed(nameSeed)
	for len(name) > 0 {
		k := min(len(name), len(buf))
		mh.Write(upperASCII(buf[:k], name[:k]))
		name = name[k:]
	}
	return mh.Sum64() + spread
}

// upperASCII writes src into dst, of the same length, with the ASCII
// lower-case letters made upper case, and returns dst.
func upperASCII(dst, src []byte) []byte {
	copy(dst, src)
	chunk := dst
	for len(chunk) >= 8 {
		binary.LittleEndian.PutUint64(chunk, upperASCII8(binary.LittleEndian.Uint64(chunk)))
		chunk = chunk[8:]
	}
	for j, c := range chunk {
		if 'a' <= c && c <= 'z' {
			chunk[j] = c - ('a' - 'A')
		}
	}
	return dst
}

// nameSeed is the seed of nameHash.
var nameSeed = maphash.MakeSeed()

// upperASCII8 upper-cases the ASCII lower-case letters among the eight
// bytes of w and leaves every other byte as it is.
func upperASCII8(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	low7 := w &^ highs
	geA := low7 + ones*(0x80-'a')   // high bit: the byte is at least 'a'
	gtZ := low7 + ones*(0x80-'z'-1) // high bit: the byte is above 'z'
	lower := geA &^ gtZ &^ w & highs
	return w ^ lower>>2 // 0x80>>2 is 0x20, the case bit
}

// sameName reports whether the member names of nodes i and j fold alike.
func (d *jsonDoc) sameName(i, j int, folded *[]string) bool {
	a, b := &d.nodes[i], &d.nodes[j]
	if a.nameASCII && b.nameASCII {
		return asciiFoldEqual(d.body[a.nameStart:a.nameEnd], d.body[b.nameStart:b.nameEnd])
	}
	return d.foldedName(i, folded) == d.foldedName(j, folded)
}

func asciiFoldEqual(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		x, y := a[k], b[k]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// unquoteJSON is the content of a JSON string's bytes between its quotes,
// as scanString accepted them; escaped says whether they hold an escape.
func unquoteJSON(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw)
	}
	return string(appendUnquoted(make([]byte, 0, len(raw)), raw))
}

// appendUnquoted appends the content of raw, a string's bytes between its
// quotes as scanString accepted them, to dst.
func appendUnquoted(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := bytes.IndexByte(raw[i:], '\\')
			if j < 0 {
				return append(dst, raw[i:]...)
			}
			dst = append(dst, raw[i:i+j]...)
			i += j
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(raw, i+2)
			if 0xD800 <= r && r <= 0xDBFF {
				lo, _ := hex4(raw, i+8)
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// bodyString is string(d.body), converted once.
func (d *jsonDoc) bodyString() string {
	if d.str == "" && len(d.body) > 0 {
		d.str = string(d.body)
	}
	return d.str
}

// jsonValue is a value of a jsonDoc, or an absent one (Kind 0).
type jsonValue struct {
	d *jsonDoc
	i int32 // -1: absent
}

// root is the document's top-level object.
func (d *jsonDoc) root() jsonValue { return jsonValue{d, 0} }

var absentJSON = jsonValue{nil, -1}

func (v jsonValue) node() *jsonNode { return &v.d.nodes[v.i] }

// Kind is '{', '[', '"', '0' (a number), 't', 'f', 'n', or 0 when absent.
func (v jsonValue) Kind() byte {
	if v.d == nil || v.i < 0 {
		return 0
	}
	return v.node().kind
}

// Exists reports whether there is a value (null is one).
func (v jsonValue) Exists() bool { return v.Kind() != 0 }

// IsNull reports whether the value is absent or null.
func (v jsonValue) IsNull() bool { k := v.Kind(); return k == 0 || k == 'n' }

// Raw is the value's bytes in the body (nil when absent).
func (v jsonValue) Raw() []byte {
	if v.Kind() == 0 {
		return nil
	}
	n := v.node()
	return v.d.body[n.start:n.end:n.end]
}

// Get is the member named name (exactly) of an object; absent for anything
// else.
func (v jsonValue) Get(name string) jsonValue {
	if v.Kind() != '{' {
		return absentJSON
	}
	d := v.d
	for c := v.node().first; c != 0; c = d.nodes[c].next {
		n := &d.nodes[c]
		if n.nameEscaped {
			if unquoteJSON(d.body[n.nameStart:n.nameEnd], true) == name {
				return jsonValue{d, c}
			}
		} else if string(d.body[n.nameStart:n.nameEnd]) == name {
			return jsonValue{d, c}
		}
	}
	return absentJSON
}

// Len is the number of elements of an array or members of an object.
func (v jsonValue) Len() int {
	switch v.Kind() {
	case '{', '[':
		return int(v.node().count)
	}
	return 0
}

// Index is the i-th element of an array; absent for anything else.
func (v jsonValue) Index(i int) jsonValue {
	if v.Kind() != '[' || i < 0 || i >= int(v.node().count) {
		return absentJSON
	}
	c := v.node().first
	for ; i > 0; i-- {
		c = v.d.nodes[c].next
	}
	return jsonValue{v.d, c}
}

// Elements yields the elements of an array (or the values of an object's
// members).
func (v jsonValue) Elements(yield func(jsonValue) bool) {
	switch v.Kind() {
	case '{', '[':
	default:
		return
	}
	for c := v.node().first; c != 0; c = v.d.nodes[c].next {
		if !yield(jsonValue{v.d, c}) {
			return
		}
	}
}

// Members yields the name and value of each member of an object.
func (v jsonValue) Members(yield func(string, jsonValue) bool) {
	if v.Kind() != '{' {
		return
	}
	for c := v.node().first; c != 0; c = v.d.nodes[c].next {
		if !yield(v.d.name(c), jsonValue{v.d, c}) {
			return
		}
	}
}

// name is the member name of node c, a sub-string of the body's string when
// it has no escape.
func (d *jsonDoc) name(c int32) string {
	n := &d.nodes[c]
	if n.nameEscaped {
		return unquoteJSON(d.body[n.nameStart:n.nameEnd], true)
	}
	return d.bodyString()[n.nameStart:n.nameEnd]
}

// Path is the value at p under v, as JSONPath.Lookup finds it: a member by
// its exact name, an array element by a segment of digits without leading
// zeros.
func (v jsonValue) Path(p JSONPath) jsonValue {
	for _, seg := range p {
		switch v.Kind() {
		case '{':
			v = v.Get(seg)
		case '[':
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || seg != strconv.Itoa(i) {
				return absentJSON
			}
			v = v.Index(i)
		default:
			return absentJSON
		}
	}
	return v
}

// String is the content of a string value; ok is false for anything else.
func (v jsonValue) String() (s string, ok bool) {
	if v.Kind() != '"' {
		return "", false
	}
	n := v.node()
	if n.escaped {
		return unquoteJSON(v.d.body[n.start+1:n.end-1], true), true
	}
	return v.d.bodyString()[n.start+1 : n.end-1], true
}

// Str is String's content, "" for anything else: a member read leniently
// (rawText).
func (v jsonValue) Str() string {
	s, _ := v.String()
	return s
}

// Number is the text of a number value, "" for anything else (rawNumber).
func (v jsonValue) Number() string {
	if v.Kind() != '0' {
		return ""
	}
	n := v.node()
	return v.d.bodyString()[n.start:n.end]
}

// Text is JSONPath.Text's reading of the value, which p names in errors: a
// string's content, a number or a boolean as sent, "" when absent or null;
// an object or an array is ErrMalformed.
func (v jsonValue) Text(p JSONPath) (string, error) {
	switch v.Kind() {
	case 0, 'n':
		return "", nil
	case '"':
		return v.Str(), nil
	case '{', '[':
		return "", fmt.Errorf("%w: %s is an object or an array, not a value", ErrMalformed, p)
	}
	n := v.node()
	return v.d.bodyString()[n.start:n.end], nil
}

// firstText is FirstText over the doc: the text of the first of paths, from
// v, that has a non-empty value, and that path.
func (v jsonValue) firstText(paths []JSONPath) (string, JSONPath, error) {
	for _, p := range paths {
		s, err := v.Path(p).Text(p)
		if err != nil {
			return "", p, err
		}
		if s != "" {
			return s, p, nil
		}
	}
	return "", nil, nil
}

// appendCompact appends the value's bytes without the whitespace between
// tokens, as json.Compact makes them, and with escapeHTML also with <, >, &,
// U+2028 and U+2029 escaped in strings, as json.Marshal(json.RawMessage(raw))
// makes them.
func (v jsonValue) appendCompact(dst []byte, escapeHTML bool) []byte {
	special := &compactSpecial
	if !escapeHTML {
		special = &compactSpaces
	}
	raw := v.Raw()
	inString := false
	start := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !special[c] {
			continue
		}
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			case '<', '>', '&':
				dst = append(append(dst, raw[start:i]...), '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
				start = i + 1
			case 0xE2: // U+2028 and U+2029 are E2 80 A8 and E2 80 A9
				if i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8 {
					dst = append(append(dst, raw[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[raw[i+2]&0xF])
					i += 2
					start = i + 1
				}
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ' ', '\t', '\r', '\n':
			dst = append(dst, raw[start:i]...)
			start = i + 1
		}
	}
	return append(dst, raw[start:]...)
}

const hexDigits = "0123456789abcdef"

// compactSpecial are the bytes appendCompact looks at; compactSpaces those
// it looks at without escapeHTML.
var (
	compactSpecial = [256]bool{'"': true, '\\': true, '<': true, '>': true, '&': true, 0xE2: true, ' ': true, '\t': true, '\r': true, '\n': true}
	compactSpaces  = [256]bool{'"': true, '\\': true, ' ': true, '\t': true, '\r': true, '\n': true}
)

// The members below are read as encoding/json read them into the providers'
// payload structs, with one difference: a member's name is matched exactly,
// where encoding/json matched a struct field's name regardless of case.
// CheckJSON refuses two names that fold alike, so the only body this reads
// differently is one that spells a documented member in another case
// ("Type"): it now reads as having no such member, as the app, which reads
// the exact name, reads it.

// memberString is the member name of an object as encoding/json decoded it
// into a string field: "" when absent or null, a string's content, and
// ErrMalformed naming path for anything else.
func (v jsonValue) memberString(name, path string) (string, error) {
	m, err := v.getField(name, path)
	if err != nil {
		return "", err
	}
	switch m.Kind() {
	case 0, 'n':
		return "", nil
	case '"':
		return m.Str(), nil
	}
	return "", fmt.Errorf("%w: %s is not a string", ErrMalformed, path)
}

// memberObject is the member name of an object as encoding/json decoded it
// into a struct field: absent when absent or null, an object, and
// ErrMalformed naming path for anything else.
func (v jsonValue) memberObject(name, path string) (jsonValue, error) {
	return v.memberOfKind(name, path, '{', "an object")
}

// memberArray is memberObject for a slice field: an array.
func (v jsonValue) memberArray(name, path string) (jsonValue, error) {
	return v.memberOfKind(name, path, '[', "an array")
}

// memberOfKind is the member name of an object that encoding/json decoded
// into a field of a container kind ('{' or '['): absent when absent or
// null, the member when of that kind, and ErrMalformed naming path, "not
// what", for anything else.
func (v jsonValue) memberOfKind(name, path string, kind byte, what string) (jsonValue, error) {
	m, err := v.getField(name, path)
	if err != nil {
		return absentJSON, err
	}
	switch m.Kind() {
	case 0, 'n':
		return absentJSON, nil
	case kind:
		return m, nil
	}
	return absentJSON, fmt.Errorf("%w: %s is not %s", ErrMalformed, path, what)
}

// compactRaw is the body as the events keep it: json.Marshal of it as a
// json.RawMessage, compacted and HTML-escaped, in a buffer of its own.
func (d *jsonDoc) compactRaw() []byte { return d.compact(true) }

// compact is the body's object without the whitespace between tokens, in
// a buffer of its own, as json.Compact makes it or, with escapeHTML, as
// json.Marshal(json.RawMessage(body)) does. A body without whitespace
// (and, with escapeHTML, without a byte to escape) is copied as it is.
func (d *jsonDoc) compact(escapeHTML bool) []byte {
	raw := d.root().Raw()
	if !d.spaced && (!escapeHTML || !d.htmlish) {
		return bytes.Clone(raw)
	}
	return d.root().appendCompact(make([]byte, 0, len(raw)), escapeHTML)
}

// memberNumber is the member name of an object as encoding/json decoded it
// into a json.Number field: "" when absent or null, a number as sent, a
// string whose content is a valid JSON number (encoding/json accepts a
// quoted number there), and ErrMalformed naming path for anything else.
func (v jsonValue) memberNumber(name, path string) (string, error) {
	m, err := v.getField(name, path)
	if err != nil {
		return "", err
	}
	switch m.Kind() {
	case 0, 'n':
		return "", nil
	case '0':
		return m.Number(), nil
	case '"':
		if s := m.Str(); isJSONNumber(s) {
			return s, nil
		}
	}
	return "", fmt.Errorf("%w: %s is not a number", ErrMalformed, path)
}

// isJSONNumber reports whether s is one JSON number.
func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	end, ok := scanNumber([]byte(s), 0)
	return ok && end == len(s)
}

// getField is the member name of an object that encoding/json read into a
// struct field, which it matched regardless of case: a body that spells it
// otherwise ("Amount" for amount) is refused, because a Go app that reads
// the forwarded body into a struct reads that member as this one, where
// this reader, like the apps that read the exact name, finds none. CheckJSON
// refused two names that fold alike, so there is at most one such member.
func (v jsonValue) getField(name, path string) (jsonValue, error) {
	m := v.Get(name)
	if m.Kind() != 0 || v.Kind() != '{' {
		return m, nil
	}
	for other := range v.Members {
		if strings.EqualFold(other, name) {
			return absentJSON, &spellingError{path: path, spelled: other, name: name}
		}
	}
	return m, nil
}

// spellingError is getField's refusal of a member spelled in another case.
type spellingError struct{ path, spelled, name string }

func (e *spellingError) reason() string {
	return fmt.Sprintf("%s is spelled %.40q, which apps that ignore case read as %s", e.path, e.spelled, e.name)
}

func (e *spellingError) Error() string { return ErrMalformed.Error() + ": " + e.reason() }

func (e *spellingError) Unwrap() error { return ErrMalformed }

// memberID is the member name of an object as an idText field read it: a
// string's content or a number as sent, "" when absent or null, and
// ErrMalformed naming path for anything else.
func (v jsonValue) memberID(name, path string) (string, error) {
	m, err := v.getField(name, path)
	if err != nil {
		return "", err
	}
	switch m.Kind() {
	case 0, 'n':
		return "", nil
	case '"':
		return m.Str(), nil
	case '0':
		return m.Number(), nil
	}
	return "", fmt.Errorf("%w: %s: an id is a string or a number", ErrMalformed, path)
}
