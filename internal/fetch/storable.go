package fetch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// PostgreSQL's numeric, which jsonb stores numbers in, holds at most this
// many digits before the decimal point and after it.
const (
	pgNumericMaxWeight = 131072
	pgNumericMaxScale  = 16383
)

// storable makes a payload that is valid JSON storable in a jsonb column:
// PostgreSQL refuses a lone UTF-16 surrogate (\ud800), invalid UTF-8, NUL,
// and numbers beyond its numeric range (1e999999), and one refused value
// would otherwise fail the device on every run. A string that held invalid
// UTF-8, a lone surrogate or NUL is stored with U+FFFD in their place; a
// number out of range is stored as null. Each change is named, with the
// field's path, in the problems returned. A payload with none is returned
// as it is, byte for byte.
func storable(raw json.RawMessage) (json.RawMessage, []string) {
	if !mayNeedRepair(raw) {
		return raw, nil // nearly every payload: no walk, no allocation
	}
	return repair(raw)
}

// repair is storable's walk through every value of raw.
func repair(raw json.RawMessage) (json.RawMessage, []string) {
	w := storableWalker{raw: raw, dec: json.NewDecoder(bytes.NewReader(raw))}
	w.dec.UseNumber()
	v, err := w.value("details")
	if err != nil || len(w.problems) == 0 {
		return raw, nil // not JSON at all is the decoder's to report
	}
	out, err := json.Marshal(v)
	if err != nil {
		return raw, nil
	}
	return out, w.problems
}

// mayNeedRepair is a quick look, one pass over the bytes, for anything
// that storable could change: invalid UTF-8, an escaped NUL or surrogate
// (\u0000, \uD800-\uDFFF), a run of digits too long for numeric or an
// exponent of five digits or more. Without any of them no JSON value in
// raw is out of PostgreSQL's range: a number's scale and weight then stay
// within 16383 and 131072 digits. It may say yes for a payload that needs
// nothing (an escaped backslash before "u0000", "1e00001" in a string);
// the walk then finds no problem.
func mayNeedRepair(raw []byte) bool {
	if !utf8.Valid(raw) {
		return true
	}
	const maxDigits = 6000 // with at most 4 exponent digits: scale < 16383, weight < 131072
	digits := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= '0' && c <= '9':
			if digits++; digits > maxDigits {
				return true
			}
			continue
		case c == '\\' && i+5 < len(raw) && raw[i+1] == 'u':
			h := raw[i+2 : i+6]
			if string(h) == "0000" || (h[0]|0x20 == 'd' && (h[1] >= '8' && h[1] <= '9' || h[1]|0x20 >= 'a' && h[1]|0x20 <= 'f')) {
				return true
			}
		case (c == 'e' || c == 'E') && digits > 0:
			j := i + 1
			if j < len(raw) && (raw[j] == '+' || raw[j] == '-') {
				j++
			}
			k := j
			for k < len(raw) && raw[k] >= '0' && raw[k] <= '9' {
				k++
			}
			if k-j > 4 {
				return true
			}
		}
		digits = 0
	}
	return false
}

type storableWalker struct {
	raw      []byte
	dec      *json.Decoder
	problems []string
}

// token reads the next token and the raw bytes it came from (with any
// separator before it).
func (w *storableWalker) token() (json.Token, []byte, error) {
	start := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return nil, nil, err
	}
	return tok, w.raw[start:w.dec.InputOffset()], nil
}

func (w *storableWalker) value(path string) (any, error) {
	tok, seg, err := w.token()
	if err != nil {
		return nil, err
	}
	return w.valueOf(path, tok, seg)
}

func (w *storableWalker) valueOf(path string, tok json.Token, seg []byte) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			arr := []any{}
			for i := 0; w.dec.More(); i++ {
				v, err := w.value(fmt.Sprintf("%s[%d]", path, i))
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := w.dec.Token() // ]
			return arr, err
		}
		obj := map[string]any{}
		for w.dec.More() {
			ktok, kseg, err := w.token()
			if err != nil {
				return nil, err
			}
			key := w.str(path+"."+truncate(fmt.Sprint(ktok), 60)+" (its name)", ktok.(string), kseg)
			v, err := w.value(path + "." + truncate(key, 60))
			if err != nil {
				return nil, err
			}
			obj[key] = v
		}
		_, err := w.dec.Token() // }
		return obj, err
	case string:
		return w.str(path, t, seg), nil
	case json.Number:
		if why := numericProblem(string(t)); why != "" {
			w.problems = append(w.problems, fmt.Sprintf("%s: number %s %s; stored as null", path, truncate(string(t), 40), why))
			return nil, nil
		}
		return t, nil
	default:
		return t, nil
	}
}

// str checks a decoded string against the bytes it came from: the decoder
// puts U+FFFD in place of invalid UTF-8 and of a lone surrogate, so more
// U+FFFD than the source spelled out means one of those was there.
func (w *storableWalker) str(path, s string, seg []byte) string {
	spelled := bytes.Count(seg, []byte("\uFFFD")) + bytes.Count(bytes.ToLower(seg), []byte(`\ufffd`))
	if !utf8.Valid(seg) || strings.Count(s, "\uFFFD") > spelled {
		w.problems = append(w.problems, path+": invalid UTF-8 or a lone UTF-16 surrogate; stored with U+FFFD in its place")
	}
	if strings.Contains(s, "\x00") {
		w.problems = append(w.problems, path+": NUL characters; stored with U+FFFD in their place")
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return s
}

// numericProblem says why PostgreSQL's numeric cannot hold the JSON number
// n, or "".
func numericProblem(n string) string {
	mant, exp := n, int64(0)
	if i := strings.IndexAny(n, "eE"); i >= 0 {
		mant = n[:i]
		e, err := strconv.ParseInt(n[i+1:], 10, 64)
		if err != nil {
			return "has an exponent beyond PostgreSQL's numeric range"
		}
		exp = e
	}
	mant = strings.TrimPrefix(mant, "-")
	intPart, frac, _ := strings.Cut(mant, ".")
	// The value is digits × 10^(exp - len(frac)).
	scale := int64(len(frac)) - exp
	if scale > pgNumericMaxScale {
		return fmt.Sprintf("has more than %d digits after the decimal point, beyond PostgreSQL's numeric range", pgNumericMaxScale)
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits != "" && int64(len(digits))-scale > pgNumericMaxWeight {
		return fmt.Sprintf("has more than %d digits before the decimal point, beyond PostgreSQL's numeric range", pgNumericMaxWeight)
	}
	return ""
}
