package verifiers

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"hash"
	"iter"
	"maps"
	"mime"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// The media types of notification bodies, for CheckContentType.
const (
	FormType = "application/x-www-form-urlencoded"
	JSONType = "application/json"
)

// ParseForm parses an application/x-www-form-urlencoded body strictly, as
// parseURLEncoded does.
func ParseForm(contentType string, body []byte) (map[string]string, error) {
	fields, err := parseFormBody(contentType, body)
	if err != nil {
		return nil, err
	}
	return fields.Map(), nil
}

// parseFormBody is ParseForm, its fields sorted rather than in a map.
func parseFormBody(contentType string, body []byte) (formFields, error) {
	if err := CheckContentType(contentType, FormType); err != nil {
		return nil, err
	}
	return parseFormFields("form field", string(body))
}

// maxParams bounds the parameters of one form or query string. PHP reads
// the first max_input_vars (1000 by default) and silently drops the others,
// which could be the signed fields, placed last.
const maxParams = 256

// parseURLEncoded parses a form body or a query string strictly; what names
// its parameters in errors ("form field", "query parameter"). A parameter
// given twice, one without a name, bad escapes or invalid UTF-8 are refused,
// because the provider's signer and the merchant's app could read such a
// body differently from this verifier. So are names that the app's web
// framework reads as another parameter (see paramKeys): two names that it
// can read as one (reply.code and reply_code in PHP, Reply_Code and
// reply_code in ASP.NET), and names with brackets or dots, which it reads as
// nested parameters (a[b], a.b: ASP.NET Core binds a whole model from
// whatever prefix a is, and so does Rails from a query named after its
// controller's JSON wrapper).
func parseURLEncoded(what, encoded string) (map[string]string, error) {
	fields, err := parseFormFields(what, encoded)
	if err != nil {
		return nil, err
	}
	return fields.Map(), nil
}

// readRawForm reads the percent-encoding of a form whose text is in the
// charset one of its fields names: names and values as bytes, not yet
// checked (decodeForm checks them once they are text).
func readRawForm(body []byte) (rawForm, error) {
	pairs, err := scanForm(string(body), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: form field: %v", ErrMalformed, err)
	}
	sorted := slices.Clone(pairs)
	sortPairs(sorted)
	if distinctNames(sorted) > maxParams {
		return nil, fmt.Errorf("%w: more than %d form fields", ErrMalformed, maxParams)
	}
	return rawForm(pairs), nil
}

// decodeForm turns the names and values of raw into UTF-8 with decode
// (false: not text in charset) and checks the result as every form is
// (parseURLEncoded): a field given twice, also after decoding, names the
// app's framework reads as another.
func decodeForm(raw rawForm, charset string, decode func(string) (string, bool)) (formFields, error) {
	// The names in order, so that the same one is named on every attempt.
	order := raw.sorted()
	decoded := make([]formField, 0, len(raw))
	n := ""
	for i, p := range order {
		if i == 0 || p.name != order[i-1].name {
			var ok bool
			if n, ok = decode(p.name); !ok {
				return nil, fmt.Errorf("%w: a form field name is not valid %s", ErrMalformed, charset)
			}
		}
		s, ok := decode(p.value)
		if !ok {
			return nil, fmt.Errorf("%w: form field %.40q is not valid %s", ErrMalformed, n, charset)
		}
		decoded = append(decoded, formField{n, s})
	}
	sortPairs(decoded)
	if err := checkPairs("form field", decoded); err != nil {
		return nil, err
	}
	return formFields(decoded), nil
}

// refuseMeetingNames refuses two names among fields' that an app's framework
// can read as one parameter.
func refuseMeetingNames(what string, fields formFields) error {
	// fields are sorted: the same reason on every attempt.
	seen := make(map[string]string, len(fields))
	for _, p := range fields {
		for _, key := range paramKeys(p.name) {
			if other, ok := seen[key]; ok && other != p.name {
				return fmt.Errorf("%w: %ss %.40q and %.40q are read as one parameter by web frameworks", ErrMalformed, what, other, p.name)
			}
			seen[key] = p.name
		}
	}
	return nil
}

// CheckContentType refuses a body that does not declare the media type want.
func CheckContentType(contentType, want string) error {
	if contentType == want {
		// What mime.ParseMediaType accepts and returns unchanged for the
		// wanted types, which are lower-case tokens without parameters.
		return nil
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != want {
		return fmt.Errorf("%w: content type %.60q, want %s", ErrMalformed, contentType, want)
	}
	// The app may decode the body by its declared charset (ASP.NET's
	// Request.Form does): in UTF-7 or UTF-16 the verified bytes would read
	// as other names and values. The charsets allowed here read every ASCII
	// byte as itself and no other byte as ASCII.
	if charset, ok := params["charset"]; ok && !slices.ContainsFunc(bodyCharsets, func(c string) bool { return strings.EqualFold(c, charset) }) {
		return fmt.Errorf("%w: content type charset %.40q, want utf-8", ErrMalformed, charset)
	}
	return nil
}

// bodyCharsets are the charsets a form or JSON body may declare.
var bodyCharsets = []string{"utf-8", "us-ascii", "iso-8859-1", "windows-1252"}

// maxJSONDepth bounds the nesting of a JSON body; notifications are shallow.
const maxJSONDepth = 32

// CheckJSON accepts a body that is one JSON object, valid UTF-8, without a
// key given twice in any object and at most maxJSONDepth deep. The signature
// covers the bytes, but encoding/json keeps the last of two equal keys, other
// parsers the first, and invalid UTF-8 is silently replaced: the app could
// read another notification than the one that was verified. Keys that differ
// only in case count as the same key, because encoding/json matches struct
// fields regardless of case ("Type" fills Type as "type" does) while PHP and
// Python keep them apart.
func CheckJSON(body []byte) error {
	d, err := readJSONDoc(body)
	if err != nil {
		return err
	}
	d.release()
	return nil
}

// objectNames are the names of one JSON object, compared as foldKey folds
// them: in a list while there are few, in a set beyond that.
type objectNames struct {
	list []string
	set  map[string]bool // of foldKey, once the list is full
}

// add adds key and reports whether no name equal to it was there.
func (o *objectNames) add(key string) bool {
	const listMax = 16
	if o.set == nil {
		for _, k := range o.list {
			if strings.EqualFold(k, key) { // foldKey's equivalence: simple folding
				return false
			}
		}
		if len(o.list) < listMax {
			o.list = append(o.list, key)
			return true
		}
		o.set = make(map[string]bool, 2*listMax)
		for _, k := range o.list {
			o.set[foldKey(k)] = true
		}
	}
	folded := foldKey(key)
	if o.set[folded] {
		return false
	}
	o.set[folded] = true
	return true
}

// HMACKeys holds the keyed HMAC states of a verifier's secrets: one pool per
// secret, in the secrets' order, of hmac.New states whose keyed inner and
// outer pads were saved by a first Reset, so that a notification costs no
// key schedule and no allocation.
type HMACKeys struct {
	size  int         // the digest size in bytes
	pools []sync.Pool // of *pooledMAC
}

// pooledMAC is one keyed HMAC state and a buffer its Sum writes into.
type pooledMAC struct {
	h   hash.Hash
	sum []byte
}

// NewHMACKeys keys an HMAC of newHash with each secret, in their order.
func NewHMACKeys(newHash func() hash.Hash, secrets [][]byte) *HMACKeys {
	k := &HMACKeys{size: newHash().Size(), pools: make([]sync.Pool, len(secrets))}
	for i, secret := range secrets {
		secret := bytes.Clone(secret)
		k.pools[i].New = func() any {
			h := hmac.New(newHash, secret)
			h.Reset() // saves the keyed pads; later Resets restore them
			return &pooledMAC{h: h, sum: make([]byte, 0, h.Size())}
		}
	}
	return k
}

// Sum returns the HMAC of message under the first secret, which test
// notifications are signed with.
func (k *HMACKeys) Sum(message []byte) []byte {
	if len(k.pools) == 0 {
		return nil
	}
	m := k.pools[0].Get().(*pooledMAC)
	defer k.pools[0].Put(m)
	m.h.Reset()
	m.h.Write(message)
	return m.h.Sum(nil)
}

// Size is the length in bytes of the HMACs the keys make.
func (k *HMACKeys) Size() int { return k.size }

// Match reports whether one of sigs, decoded signatures, is the HMAC of
// message under one of the secrets. The HMAC is computed once per secret,
// whatever the number of signatures (a header may carry several during a
// provider's secret roll), and compared in constant time; a signature of the
// wrong length matches nothing.
func (k *HMACKeys) Match(message []byte, sigs ...[]byte) bool {
	return k.match(nil, message, sigs)
}

// match is Match of the HMAC of prefix followed by message: the two parts
// are hashed one after the other, never copied into one buffer (Square
// signs its notification URL followed by the body).
func (k *HMACKeys) match(prefix, message []byte, sigs [][]byte) bool {
	for i := range k.pools {
		pool := &k.pools[i]
		m := pool.Get().(*pooledMAC)
		m.h.Reset()
		m.h.Write(prefix)
		m.h.Write(message)
		m.sum = m.h.Sum(m.sum[:0])
		ok := false
		for _, sig := range sigs {
			if hmac.Equal(m.sum, sig) {
				ok = true
			}
		}
		pool.Put(m)
		if ok {
			return true
		}
	}
	return false
}

// Secrets is the number of secrets the keys were made with.
func (k *HMACKeys) Secrets() int { return len(k.pools) }

// CheckHexHMAC checks that given, the value of the signature field or header
// named name, is the hex HMAC of message under one of the secrets (either
// hex case). Every secret is tried, so that a secret can be rotated.
func CheckHexHMAC(name, given string, keys *HMACKeys, message []byte) error {
	if given == "" {
		return fmt.Errorf("%w: no %s", ErrSignature, name)
	}
	var buf [64]byte // the largest digest of crypto's hashes
	if keys.size > len(buf) || len(given) != 2*keys.size || !decodeHex(buf[:keys.size], given) {
		return fmt.Errorf("%w: %s is not a hex HMAC of the configured algorithm", ErrSignature, name)
	}
	if keys.match(nil, message, [][]byte{buf[:keys.size]}) {
		return nil
	}
	return fmt.Errorf("%w: %s matches none of the %d configured secrets", ErrSignature, name, len(keys.pools))
}

// decodeMAC decodes given, a signature of exactly size bytes in hex (either
// case) or, with inBase64, in strict standard base64 with padding (no
// newlines, the unused bits of the last character zero, so that one
// signature has one text, as the providers' SDKs compare it), into buf,
// which holds at least size+2 bytes (what base64's last group can decode
// to); size is at most 64.
func decodeMAC(buf []byte, given string, size int, inBase64 bool) ([]byte, bool) {
	if size > 64 {
		return nil, false
	}
	if !inBase64 {
		return buf[:size], decodeHex(buf[:size], given)
	}
	// The length first: Decode writes all it decodes into buf.
	if len(given) != base64.StdEncoding.EncodedLen(size) {
		return nil, false
	}
	var src [88]byte // EncodedLen(64)
	n, err := strictBase64.Decode(buf, append(src[:0], given...))
	return buf[:n], err == nil && n == size
}

var strictBase64 = base64.StdEncoding.Strict()

// decodeHex decodes s, of exactly 2*len(dst) hex digits in either case, into
// dst; it accepts what hex.DecodeString accepts.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHexChar(s[2*i])
		lo, ok2 := fromHexChar(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHexChar(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// RefuseShadowingQuery refuses a query string that the app could read in
// place of a field of the body (a form field or a top-level JSON member) or
// of one of the provider's documented fields, which are all plain names.
// The query is not signed, and with forward original the app's framework
// merges it with the body: PHP's $_REQUEST (the body over the query, after
// renaming reply.code to reply_code), Rails' params (the query over the body,
// whole hashes at a time), ASP.NET's Request[] (the query first, ignoring
// case). Its parameters are checked as a form's are (parseURLEncoded).
func RefuseShadowingQuery[V any](rawQuery string, body map[string]V, documented map[string]bool) error {
	if rawQuery == "" {
		return nil
	}
	plain := true // each body field is its own only key
	for name := range body {
		if !isPlainParam(name) {
			plain = false
			break
		}
	}
	return refuseShadowing(rawQuery, plain, maps.Keys(body), func(name string) bool { _, ok := body[name]; return ok }, documented)
}

// refuseShadowingForm is RefuseShadowingQuery for a form's fields.
func refuseShadowingForm(rawQuery string, body formFields, documented map[string]bool) error {
	if rawQuery == "" {
		return nil
	}
	plain := true // each body field is its own only key
	for _, p := range body {
		if !isPlainParam(p.name) {
			plain = false
			break
		}
	}
	return refuseShadowing(rawQuery, plain, body.Names(), body.Has, documented)
}

// refuseShadowing is RefuseShadowingQuery of a body whose names are
// bodyNames and has; plain says whether each of them is its own only key
// (isPlainParam). The query's parameters are tried in byte order.
func refuseShadowing(rawQuery string, plain bool, bodyNames iter.Seq[string], has func(string) bool, documented map[string]bool) error {
	var stack [16]formField // the query's fields are not kept
	query, err := parseFormFieldsInto("query parameter", rawQuery, stack[:0])
	if err != nil {
		return err
	}
	var bodyKeys map[string]string // key → body field; nil while each body field is its own only key
	if !plain {
		bodyKeys = make(map[string]string)
		for name := range bodyNames {
			for _, key := range paramKeys(name) {
				bodyKeys[key] = name
			}
		}
	}
	shadows := func(name, key string) error {
		field, shadows := key, documented[key]
		if bodyKeys != nil {
			if f, ok := bodyKeys[key]; ok {
				field, shadows = f, true
			}
		} else if has(key) {
			shadows = true
		}
		if shadows {
			return fmt.Errorf("%w: query parameter %.40q would shadow the field %.40q: web frameworks read them as one", ErrMalformed, name, field)
		}
		return nil
	}
	for _, p := range query {
		if isPlainParam(p.name) { // its own only key: paramKeys(p.name) is just p.name
			if err := shadows(p.name, p.name); err != nil {
				return err
			}
			continue
		}
		for _, key := range paramKeys(p.name) {
			if err := shadows(p.name, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// isPlainParam reports whether name is made of lower-case ASCII letters,
// digits, '_' and '-' only: every framework reads it as itself, so that it is
// its own only key (paramKeys).
func isPlainParam(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !plainParamByte[name[i]] {
			return false
		}
	}
	return true
}

// plainParamByte marks the bytes of plain names: a-z, 0-9, '_' and '-'.
var plainParamByte = func() (t [256]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
	}
	return t
}()

// paramKeys returns the keys under which the web frameworks an app may be
// written with can read a parameter (of a query or a form, or a top-level
// JSON member) named name: two parameters whose keys meet can be read as one,
// and then the last one (PHP, Django), the query (Rails, ASP.NET's
// Request[]) or the form (ASP.NET Core) wins. A key is folded by foldParam
// (ASP.NET ignores case), and the keys are
//   - the name itself: Django, Express, Rails, ASP.NET;
//   - PHP's variable name (main/php_variables.c): the name cut at a NUL byte
//     (PHP's names are C strings), its leading spaces dropped, ' ' and '.'
//     made '_', and then the part before '[' when a ']' follows (a[b] is an
//     array under a), else the '[' made '_', as are ' ', '.' and '[' after
//     it in PHP 8 but not in PHP 7 (both are keys);
//   - the part before the first '[' after the first byte (Rack 3, under Rails);
//   - the first run of bytes other than '[' and ']' after any of them (Rack
//     2 reads "]a]" as a);
//   - Express's qs: the part before the first [...] without a bracket inside,
//     or that group's content when nothing precedes it ("[a]" is a), with its
//     allowDots ("a.b" as "a[b]") and without;
//   - the last three and the name itself also without its leading spaces
//     (Rack 2 skips spaces after '&') and without a leading '?' (qs'
//     ignoreQueryPrefix).
//
// An empty key is left out: PHP drops such a parameter, the others nest it.
func paramKeys(name string) []string {
	if isPlainParam(name) {
		return []string{name}
	}
	keys := make([]string, 0, 8)
	add := func(key string) {
		if key == "" {
			return
		}
		if key = foldParam(key); !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	php8, php7 := phpName(name)
	add(php8)
	add(php7)
	for _, s := range [...]string{name, strings.TrimLeft(name, " "), strings.TrimPrefix(name, "?")} {
		add(s)
		if i := strings.IndexByte(s, '['); i == 0 && len(s) > 1 {
			if j := strings.IndexByte(s[1:], '['); j >= 0 {
				add(s[:j+1])
			}
		} else if i > 0 {
			add(s[:i])
		}
		add(rack2Key(s))
		add(qsKey(s))
		add(qsKey(qsDots(s)))
	}
	return keys
}

// phpName is the variable name PHP 8 and PHP 7 make of a parameter name.
func phpName(name string) (php8, php7 string) {
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	name = strings.TrimLeft(name, " ")
	b := []byte(name)
	for i := range b {
		switch b[i] {
		case ' ', '.':
			b[i] = '_'
		case '[':
			if strings.IndexByte(name[i+1:], ']') >= 0 {
				return string(b[:i]), string(b[:i]) // an array under this name
			}
			b[i] = '_'
			php7 = string(b)
			for j := i + 1; j < len(b); j++ {
				if b[j] == ' ' || b[j] == '.' || b[j] == '[' {
					b[j] = '_'
				}
			}
			return string(b), php7
		}
	}
	return string(b), string(b)
}

// rack2Key is the top-level key of Rack 2's normalize_params:
// \A[\[\]]*([^\[\]]+)\]* .
func rack2Key(name string) string {
	name = strings.TrimLeft(name, "[]")
	if i := strings.IndexAny(name, "[]"); i >= 0 {
		return name[:i]
	}
	return name
}

// qsKey is the top-level key of qs' parseKeys: the parent, before the first
// /\[[^[\]]*]/, or when there is none that group's content.
func qsKey(key string) string {
	open := -1
	for i := 0; i < len(key); i++ {
		switch key[i] {
		case '[':
			open = i
		case ']':
			if open > 0 {
				return key[:open]
			}
			if open == 0 {
				return key[1:i]
			}
		}
	}
	return key
}

// qsDots is qs' allowDots: key.replace(/\.([^.[]+)/g, '[$1]').
func qsDots(key string) string {
	if !strings.Contains(key, ".") {
		return key
	}
	var b strings.Builder
	for i := 0; i < len(key); {
		if key[i] == '.' {
			j := i + 1
			for j < len(key) && key[j] != '.' && key[j] != '[' {
				j++
			}
			if j > i+1 {
				b.WriteByte('[')
				b.WriteString(key[i+1 : j])
				b.WriteByte(']')
				i = j
				continue
			}
		}
		b.WriteByte(key[i])
		i++
	}
	return b.String()
}

// foldParam folds a parameter name as ASP.NET compares names (ordinal,
// ignoring case: each character upper-cased) and as Unicode simple case
// folding does: "Reply_Code" and "reply_code" fold alike, and so do "ſ"
// (long s) and "s", "ı" (dotless i) and "i", "K" (Kelvin sign) and "k". A
// name of lower-case ASCII is its own fold.
func foldParam(name string) string {
	if isLowerASCII(name) {
		return name
	}
	return strings.ToLower(foldKey(strings.ToUpper(name)))
}

// foldKey maps each rune to the smallest rune of its case-folding orbit, as
// encoding/json does when it matches a key to a struct field: "Type",
// "TYPE" and "type" fold alike, and so do "ſource" (long s) and "source".
func foldKey(key string) string {
	var b strings.Builder
	for _, r := range key {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// RefuseShadowingJSONQuery is RefuseShadowingQuery for a JSON body: a
// request with a query string is refused when one of its parameters could
// be read by an app framework in place of a top-level member of body or of
// documented. body must have passed CheckJSON.
func RefuseShadowingJSONQuery(rawQuery string, body []byte, documented map[string]bool) error {
	if rawQuery == "" {
		return nil
	}
	d, err := readJSONDoc(body)
	if err != nil {
		return err
	}
	defer d.release()
	return refuseShadowingJSONDoc(rawQuery, d, documented)
}

// CheckSignedJSON makes the checks of a JSON webhook that come before its
// event is read, in this order: the method (POST), the content type
// (JSON), authenticate (the provider's signature and credential checks,
// over the raw body), the strict JSON checks (CheckJSON), and no query
// parameter that the app could read in place of a top-level member of the
// body or one of the documented ones (RefuseShadowingJSONQuery).
func CheckSignedJSON(r *Request, authenticate func() error, documented map[string]bool) error {
	d, err := checkSignedJSONDoc(r, authenticate, documented)
	if err != nil {
		return err
	}
	d.release()
	return nil
}

// oneValue returns the value of the header name, whose values are given:
// it must be given once and not be empty, for a proxy that appends a second
// value, or a sender that sends two, would leave which one counts to
// chance. Its errors wrap kind (ErrSignature for a signature or a signed
// value, ErrMalformed for an id). The caller looks the values up, by the
// canonical key it keeps, so that no request pays for canonicalizing a
// name such as X-Square-HmacSha256-Signature.
func oneValue(values []string, name string, kind error) (string, error) {
	if len(values) > 1 {
		return "", fmt.Errorf("%w: %s header given %d times", kind, name, len(values))
	}
	if len(values) == 0 || values[0] == "" {
		return "", fmt.Errorf("%w: no %s header", kind, name)
	}
	return values[0], nil
}
