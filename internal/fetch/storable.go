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
