package verifiers

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// AppendJSON appends the event as json.Marshal(e) writes it, byte for byte,
// and fails where json.Marshal fails (raw that is not valid JSON, a time
// whose year is outside 0-9999 or whose zone hour is outside 0-23), without
// reflection: the members in the struct's order, the omitempty and omitzero
// members left out when empty, strings escaped as encoding/json escapes them
// (HTML characters, U+2028 and U+2029, invalid UTF-8 as \ufffd), the times
// as time.Time.MarshalJSON writes them and raw compacted as encoding/json
// compacts a json.RawMessage (whitespace outside strings dropped, <, >, &,
// U+2028 and U+2029 escaped, nothing else changed). On error dst is
// returned as it was. eventjson_test.go compares it with json.Marshal on
// every golden event and under fuzzing.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	n0 := len(dst)
	dst = append(dst, `{"schema":`...)
	dst = appendJSONString(dst, e.Schema)
	dst = append(dst, `,"id":`...)
	dst = appendJSONString(dst, e.ID)
	dst = append(dst, `,"provider":`...)
	dst = appendJSONString(dst, e.Provider)
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, string(e.Status))
	dst = appendMemberString(dst, `,"provider_status":`, e.ProviderStatus)
	dst = appendMemberString(dst, `,"order_id":`, e.OrderID)
	dst = appendMemberString(dst, `,"transaction_id":`, e.TransactionID)
	dst = appendMemberString(dst, `,"merchant_id":`, e.MerchantID)
	dst = appendMemberString(dst, `,"amount":`, e.Amount)
	if e.AmountMinor != nil {
		dst = append(dst, `,"amount_minor":`...)
		dst = strconv.AppendInt(dst, *e.AmountMinor, 10)
	}
	dst = appendMemberString(dst, `,"currency":`, e.Currency)
	var err error
	if !e.OccurredAt.IsZero() {
		if dst, err = appendMemberTime(dst, `,"occurred_at":`, e.OccurredAt); err != nil {
			return dst[:n0], fmt.Errorf("occurred_at: %w", err)
		}
	}
	if dst, err = appendMemberTime(dst, `,"received_at":`, e.ReceivedAt); err != nil {
		return dst[:n0], fmt.Errorf("received_at: %w", err)
	}
	dst = appendMemberString(dst, `,"reason":`, e.Reason)
	dst = appendMemberString(dst, `,"response_code":`, e.ResponseCode)
	dst = appendMemberString(dst, `,"payment_method":`, e.PaymentMethod)
	if c := e.Customer; c != nil {
		dst = append(dst, `,"customer":{`...)
		mark := len(dst)
		dst = appendMemberString(dst, `,"name":`, c.Name)
		dst = appendMemberString(dst, `,"email":`, c.Email)
		dst = appendMemberString(dst, `,"phone":`, c.Phone)
		dst = appendMemberString(dst, `,"ip":`, c.IP)
		if len(dst) > mark {
			// The first member's comma goes.
			dst = append(dst[:mark], dst[mark+1:]...)
		}
		dst = append(dst, '}')
	}
	dst = appendMemberString(dst, `,"source_ip":`, e.SourceIP)
	dst = append(dst, `,"raw":`...)
	if e.Raw == nil {
		dst = append(dst, "null"...) // what json.RawMessage's MarshalJSON gives for nil
	} else {
		var ok bool
		if dst, ok = appendCompactRaw(dst, e.Raw); !ok {
			return dst[:n0], errors.New("raw: not valid JSON")
		}
	}
	return append(dst, '}'), nil
}

// appendMemberString appends the member named by key (with its leading
// comma) unless value is empty: omitempty.
func appendMemberString(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, key...)
	return appendJSONString(dst, value)
}

// appendMemberTime appends the member key with t as time.Time.MarshalJSON
// writes it (RFC 3339 with as many fractional digits as it has), failing
// where MarshalJSON fails.
func appendMemberTime(dst []byte, key string, t time.Time) ([]byte, error) {
	n0 := len(dst)
	dst = append(dst, key...)
	dst = append(dst, '"')
	out, err := t.AppendText(dst) // MarshalJSON's format and checks, without its allocation
	if err != nil {
		return dst[:n0], err
	}
	return append(out, '"'), nil
}

// compactMaxDepth is encoding/json's scanner's limit on nesting: a raw nested
// deeper is an error there.
const compactMaxDepth = 10000

// rawCompactSpecial marks the bytes that appendCompactRaw does not copy
// as they are inside a string: the control characters (invalid there), '"'
// and '\\', the HTML characters, and 0xE2 (the first byte of U+2028 and
// U+2029).
var rawCompactSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	for _, c := range []byte{'"', '\\', '<', '>', '&', 0xE2} {
		t[c] = true
	}
	return t
}()

// appendCompactRaw appends src as encoding/json's compact with HTML
// escaping writes a json.RawMessage: the whitespace between tokens dropped,
// '<', '>' and '&' written as \u003c, \u003e and \u0026 and U+2028 and
// U+2029 as \u2028 and \u2029, every other byte copied (invalid UTF-8 in a
// string included). It reports false, and dst as it was, where encoding/json's
// scanner finds an error: src is not exactly one JSON value with optional
// whitespace around it, or it nests deeper than 10000.
func appendCompactRaw(dst, src []byte) ([]byte, bool) {
	c := rawCompactor{dst: dst, src: src}
	c.skipSpace()
	if !c.value(0) {
		return dst, false
	}
	c.skipSpace()
	if c.i != len(src) {
		return dst, false
	}
	c.flush(len(src))
	return c.dst, true
}

// rawCompactor is appendCompactRaw's state: src[start:i] is read and
// valid but not yet copied to dst.
type rawCompactor struct {
	dst, src []byte
	i, start int
}

// flush copies what is pending up to end.
func (c *rawCompactor) flush(end int) {
	c.dst = append(c.dst, c.src[c.start:end]...)
	c.start = end
}

// skipSpace drops the whitespace at i.
func (c *rawCompactor) skipSpace() {
	if c.i < len(c.src) && compactIsSpace(c.src[c.i]) {
		c.flush(c.i)
		for c.i < len(c.src) && compactIsSpace(c.src[c.i]) {
			c.i++
		}
		c.start = c.i
	}
}

func compactIsSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// value reads one value at i; depth is the number of containers around it.
func (c *rawCompactor) value(depth int) bool {
	if c.i >= len(c.src) {
		return false
	}
	switch b := c.src[c.i]; {
	case b == '"':
		return c.string()
	case b == '{':
		if depth >= compactMaxDepth {
			return false
		}
		c.i++
		c.skipSpace()
		if c.i < len(c.src) && c.src[c.i] == '}' {
			c.i++
			return true
		}
		for {
			if c.i >= len(c.src) || c.src[c.i] != '"' || !c.string() {
				return false
			}
			c.skipSpace()
			if c.i >= len(c.src) || c.src[c.i] != ':' {
				return false
			}
			c.i++
			c.skipSpace()
			if !c.value(depth + 1) {
				return false
			}
			c.skipSpace()
			if c.i >= len(c.src) {
				return false
			}
			switch c.src[c.i] {
			case ',':
				c.i++
				c.skipSpace()
			case '}':
				c.i++
				return true
			default:
				return false
			}
		}
	case b == '[':
		if depth >= compactMaxDepth {
			return false
		}
		c.i++
		c.skipSpace()
		if c.i < len(c.src) && c.src[c.i] == ']' {
			c.i++
			return true
		}
		for {
			if !c.value(depth + 1) {
				return false
			}
			c.skipSpace()
			if c.i >= len(c.src) {
				return false
			}
			switch c.src[c.i] {
			case ',':
				c.i++
				c.skipSpace()
			case ']':
				c.i++
				return true
			default:
				return false
			}
		}
	case b == '-' || (b >= '0' && b <= '9'):
		return c.number()
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	}
	return false
}

func (c *rawCompactor) literal(word string) bool {
	if len(c.src)-c.i < len(word) || string(c.src[c.i:c.i+len(word)]) != word {
		return false
	}
	c.i += len(word)
	return true
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (c *rawCompactor) number() bool {
	s, i := c.src, c.i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	c.i = i
	return true
}

// string reads a string at i (its opening quote), escaping the HTML
// characters and U+2028 and U+2029.
func (c *rawCompactor) string() bool {
	const hex = "0123456789abcdef"
	s := c.src
	i := c.i + 1
	for i < len(s) {
		b := s[i]
		if !rawCompactSpecial[b] {
			i++
			continue
		}
		switch {
		case b == '"':
			c.i = i + 1
			return true
		case b < 0x20:
			return false
		case b == '\\':
			if i+1 >= len(s) {
				return false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(s)-i < 6 || !compactIsHex(s[i+2]) || !compactIsHex(s[i+3]) || !compactIsHex(s[i+4]) || !compactIsHex(s[i+5]) {
					return false
				}
				i += 6
			default:
				return false
			}
		case b == '<' || b == '>' || b == '&':
			c.flush(i)
			c.dst = append(c.dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			i++
			c.start = i
		default: // 0xE2
			if i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xA8 {
				c.flush(i)
				c.dst = append(c.dst, '\\', 'u', '2', '0', '2', hex[s[i+2]&0xF])
				i += 3
				c.start = i
				continue
			}
			i++
		}
	}
	return false
}

func compactIsHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}
