package deviceid

import (
	"encoding/base64"
	"strings"
)

// Spellings returns every spelling of the device's ID: both TYPEs, both
// base64 alphabets, padded or not, the local part as given, in lower case
// and in upper case; the region as given.
func (id ID) Spellings() []string {
	locals := []string{id.Local}
	if u, ok := id.UUID(); ok {
		locals = append(locals, u, strings.ToUpper(u))
	}
	var out []string
	seen := map[string]bool{}
	for _, typ := range DeviceTypes {
		for _, local := range locals {
			text := []byte("ciscospark://" + id.Region + "/" + typ + "/" + local)
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				if s := enc.EncodeToString(text); !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
	}
	return out
}
