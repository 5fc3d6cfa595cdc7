package main

// A JSON reader and writer that behave exactly as the Weft chaincode SDK's
// (chaincode/sdk/src/json.rs): the same grammar, the same depth bound, the
// same error texts with byte offsets, numbers kept as written, object members
// kept in document order, and Go's default string escaping on output. The
// contracts put parser errors into their responses, so encoding/json (whose
// messages differ) cannot stand in for it.

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// jsonMaxDepth bounds nesting, as the SDK's MAX_DEPTH does.
const jsonMaxDepth = 64

type jsonKind int

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

type jsonMember struct {
	name  string
	value *jsonValue
}

type jsonValue struct {
	kind    jsonKind
	boolean bool
	text    string // number as written, or string contents
	items   []*jsonValue
	members []jsonMember
}

func jsonStr(s string) *jsonValue { return &jsonValue{kind: jsonString, text: s} }

func jsonInt(n int64) *jsonValue { return &jsonValue{kind: jsonNumber, text: fmt.Sprint(n)} }

func jsonObj(members ...jsonMember) *jsonValue {
	return &jsonValue{kind: jsonObject, members: members}
}

func (v *jsonValue) String() string {
	var out strings.Builder
	v.write(&out)
	return out.String()
}

func (v *jsonValue) write(out *strings.Builder) {
	switch v.kind {
	case jsonNull:
		out.WriteString("null")
	case jsonBool:
		if v.boolean {
			out.WriteString("true")
		} else {
			out.WriteString("false")
		}
	case jsonNumber:
		out.WriteString(v.text)
	case jsonString:
		writeJSONString(v.text, out)
	case jsonArray:
		out.WriteByte('[')
		for i, item := range v.items {
			if i > 0 {
				out.WriteByte(',')
			}
			item.write(out)
		}
		out.WriteByte(']')
	case jsonObject:
		out.WriteByte('{')
		for i, m := range v.members {
			if i > 0 {
				out.WriteByte(',')
			}
			writeJSONString(m.name, out)
			out.WriteByte(':')
			m.value.write(out)
		}
		out.WriteByte('}')
	}
}

// writeJSONString writes s as a JSON string literal escaped as Go's
// encoding/json does by default.
func writeJSONString(s string, out *strings.Builder) {
	out.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"':
			out.WriteString(`\"`)
		case c == '\\':
			out.WriteString(`\\`)
		case c == '\n':
			out.WriteString(`\n`)
		case c == '\r':
			out.WriteString(`\r`)
		case c == '\t':
			out.WriteString(`\t`)
		case c == '\b':
			out.WriteString(`\b`)
		case c == '\f':
			out.WriteString(`\f`)
		case c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029' || c < 0x20:
			fmt.Fprintf(out, `\u%04x`, c)
		default:
			out.WriteRune(c)
		}
	}
	out.WriteByte('"')
}

// parseJSON reads one JSON document (surrounding whitespace allowed).
func parseJSON(text []byte) (*jsonValue, error) {
	p := &jsonParser{s: text}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected data after JSON value at offset %d", p.i)
	}
	return v, nil
}

type jsonParser struct {
	s []byte
	i int
}

func (p *jsonParser) peek() (byte, bool) {
	if p.i < len(p.s) {
		return p.s[p.i], true
	}
	return 0, false
}

func (p *jsonParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) fail(what string) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", p.i, what)
}

func (p *jsonParser) expect(lit string) error {
	if !strings.HasPrefix(string(p.s[p.i:]), lit) {
		return p.fail("unexpected token")
	}
	p.i += len(lit)
	return nil
}

func (p *jsonParser) value(depth int) (*jsonValue, error) {
	if depth > jsonMaxDepth {
		return nil, p.fail("nested too deeply")
	}
	c, ok := p.peek()
	if !ok {
		return nil, p.fail("unexpected end of input")
	}
	switch {
	case c == 'n':
		return &jsonValue{kind: jsonNull}, p.expect("null")
	case c == 't':
		return &jsonValue{kind: jsonBool, boolean: true}, p.expect("true")
	case c == 'f':
		return &jsonValue{kind: jsonBool}, p.expect("false")
	case c == '"':
		s, err := p.str()
		return jsonStr(s), err
	case c == '[':
		return p.array(depth)
	case c == '{':
		return p.object(depth)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return nil, p.fail("unexpected character")
	}
}

func (p *jsonParser) array(depth int) (*jsonValue, error) {
	p.i++
	v := &jsonValue{kind: jsonArray}
	p.ws()
	if c, _ := p.peek(); c == ']' {
		p.i++
		return v, nil
	}
	for {
		p.ws()
		item, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.items = append(v.items, item)
		p.ws()
		c, _ := p.peek()
		switch c {
		case ',':
			p.i++
		case ']':
			p.i++
			return v, nil
		default:
			return nil, p.fail("expected ',' or ']'")
		}
	}
}

func (p *jsonParser) object(depth int) (*jsonValue, error) {
	p.i++
	v := &jsonValue{kind: jsonObject}
	p.ws()
	if c, _ := p.peek(); c == '}' {
		p.i++
		return v, nil
	}
	for {
		p.ws()
		if c, _ := p.peek(); c != '"' {
			return nil, p.fail("expected a member name")
		}
		name, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		p.ws()
		member, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.members = append(v.members, jsonMember{name: name, value: member})
		p.ws()
		c, _ := p.peek()
		switch c {
		case ',':
			p.i++
		case '}':
			p.i++
			return v, nil
		default:
			return nil, p.fail("expected ',' or '}'")
		}
	}
}

func (p *jsonParser) digits() int {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}

func (p *jsonParser) number() (*jsonValue, error) {
	start := p.i
	if c, _ := p.peek(); c == '-' {
		p.i++
	}
	c, _ := p.peek()
	switch {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		p.digits()
	default:
		return nil, p.fail("bad number")
	}
	if c, _ := p.peek(); c == '.' {
		p.i++
		if p.digits() == 0 {
			return nil, p.fail("bad fraction")
		}
	}
	if c, _ := p.peek(); c == 'e' || c == 'E' {
		p.i++
		if c, _ := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		if p.digits() == 0 {
			return nil, p.fail("bad exponent")
		}
	}
	return &jsonValue{kind: jsonNumber, text: string(p.s[start:p.i])}, nil
}

func (p *jsonParser) hex4() (rune, error) {
	var v rune
	for range 4 {
		c, _ := p.peek()
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, p.fail(`bad \u escape`)
		}
		v = v*16 + rune(d)
		p.i++
	}
	return v, nil
}

func (p *jsonParser) str() (string, error) {
	p.i++
	var out []byte
	for {
		c, ok := p.peek()
		if !ok {
			return "", p.fail("unterminated string")
		}
		p.i++
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return "", p.fail("string is not UTF-8")
			}
			return string(out), nil
		case c == '\\':
			e, ok := p.peek()
			if !ok {
				return "", p.fail("unterminated escape")
			}
			p.i++
			r, err := p.escape(e)
			if err != nil {
				return "", err
			}
			out = utf8.AppendRune(out, r)
		case c < 0x20:
			return "", p.fail("control character in string")
		default:
			out = append(out, c)
		}
	}
}

func (p *jsonParser) escape(e byte) (rune, error) {
	switch e {
	case '"':
		return '"', nil
	case '\\':
		return '\\', nil
	case '/':
		return '/', nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		hi, err := p.hex4()
		if err != nil {
			return 0, err
		}
		if hi < 0xD800 || hi >= 0xDC00 || !strings.HasPrefix(string(p.s[p.i:]), `\u`) {
			// A lone surrogate is no scalar value: it becomes U+FFFD.
			return validRune(hi), nil
		}
		p.i += 2
		lo, err := p.hex4()
		if err != nil {
			return 0, err
		}
		if lo < 0xDC00 || lo >= 0xE000 {
			return utf8.RuneError, nil
		}
		return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), nil
	default:
		return 0, p.fail("bad escape")
	}
}

func validRune(r rune) rune {
	if utf8.ValidRune(r) {
		return r
	}
	return utf8.RuneError
}
