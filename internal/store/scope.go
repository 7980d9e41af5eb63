package store

import (
	"fmt"
	"strconv"
	"strings"
)

// Scope is the part of the fleet a run covers: all of it, or one shard of
// it, chosen by a stable hash of the device ID.
type Scope struct {
	Index, Count int // Count 0: the whole fleet
}

// All is the whole fleet.
var All = Scope{}

// ParseScope reads "INDEX/COUNT" (0-based index), e.g. "0/4".
func ParseScope(s string) (Scope, error) {
	i, c, ok := strings.Cut(s, "/")
	if !ok {
		return Scope{}, fmt.Errorf("shard %q: want INDEX/COUNT, e.g. 0/4", s)
	}
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(c)
	if err1 != nil || err2 != nil {
		return Scope{}, fmt.Errorf("shard %q: want INDEX/COUNT, e.g. 0/4", s)
	}
	if count == 0 {
		// 0/0 is not the whole fleet by another name: leave --shard out.
		return Scope{}, fmt.Errorf("shard %q: COUNT must be at least 1 (leave the shard out to sync the whole fleet)", s)
	}
	sc := Scope{Index: index, Count: count}
	return sc, sc.Validate()
}

// Validate checks the bounds: 0 <= index < count <= 1000.
func (s Scope) Validate() error {
	if s.Count == 0 && s.Index == 0 {
		return nil
	}
	if s.Count < 1 || s.Count > 1000 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard %d/%d: want 0 <= INDEX < COUNT <= 1000", s.Index, s.Count)
	}
	return nil
}

// IsAll reports whether the scope is the whole fleet.
func (s Scope) IsAll() bool { return s.Count == 0 }

func (s Scope) String() string {
	if s.IsAll() {
		return "all"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}
