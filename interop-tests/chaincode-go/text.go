package main

// Text conversions whose results reach clients, written to match what the
// Rust contracts produce (Rust's standard library, not Go's, decides them).

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// functionAndParameters is the SDK's function_and_parameters: arguments are
// decoded as UTF-8 with each ill-formed part replaced by U+FFFD.
func functionAndParameters(stub shim.ChaincodeStubInterface) (string, []string) {
	raw := stub.GetArgs()
	if len(raw) == 0 {
		return "", nil
	}
	params := make([]string, 0, len(raw)-1)
	for _, arg := range raw[1:] {
		params = append(params, lossyUTF8(arg))
	}
	return lossyUTF8(raw[0]), params
}

// lossyUTF8 mirrors Rust's String::from_utf8_lossy: each maximal ill-formed
// subpart (per the Unicode recommendation) becomes one U+FFFD, where Go's
// decoder would emit one per byte.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r != utf8.RuneError || size > 1 {
			out.Write(b[:size])
			b = b[size:]
			continue
		}
		out.WriteRune(utf8.RuneError)
		b = b[illFormedPrefixLen(b):]
	}
	return out.String()
}

// illFormedPrefixLen is the length of the maximal prefix of b that could
// start a well-formed sequence (at least 1), b being ill-formed at its start.
func illFormedPrefixLen(b []byte) int {
	lo, hi, need := byte(0x80), byte(0xBF), 0
	switch first := b[0]; {
	case first >= 0xC2 && first <= 0xDF:
		need = 1
	case first == 0xE0:
		lo, need = 0xA0, 2
	case first == 0xED:
		hi, need = 0x9F, 2
	case first >= 0xE1 && first <= 0xEF:
		need = 2
	case first == 0xF0:
		lo, need = 0x90, 3
	case first >= 0xF1 && first <= 0xF3:
		need = 3
	case first == 0xF4:
		hi, need = 0x8F, 3
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(b); n++ {
		if b[n] < lo || b[n] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return n
}

// rustDebugString renders s as Rust's `{:?}` does for a str: quoted, with
// \0 \t \r \n \\ \" escaped and other unprintable characters (controls,
// spaces other than ' ', combining marks) as \u{hex}.
func rustDebugString(s string) string {
	var out strings.Builder
	out.WriteByte('"')
	for _, c := range s {
		switch {
		case c == 0:
			out.WriteString(`\0`)
		case c == '\t':
			out.WriteString(`\t`)
		case c == '\r':
			out.WriteString(`\r`)
		case c == '\n':
			out.WriteString(`\n`)
		case c == '\\':
			out.WriteString(`\\`)
		case c == '"':
			out.WriteString(`\"`)
		case unicode.IsPrint(c) && !unicode.In(c, unicode.Mn, unicode.Me):
			out.WriteRune(c)
		default:
			fmt.Fprintf(&out, `\u{%x}`, c)
		}
	}
	out.WriteByte('"')
	return out.String()
}

// parseI64 is Rust's str::parse::<i64>: an optional sign and decimal digits.
func parseI64(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// parseU32 is Rust's str::parse::<u32>: an optional '+' and decimal digits.
func parseU32(s string) (uint32, bool) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 32)
	return uint32(n), err == nil
}
