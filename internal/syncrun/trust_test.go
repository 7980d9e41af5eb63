package syncrun

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// The trust rule, with the values stated: more than 1% and at least two
// disagreements, or any missed change, distrusts; three agreeing runs in a
// row trust again; a run with nothing to compare proves nothing.
func TestJudge(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	trusted := store.Trust{OrgKey: "o", Field: "ip", Trusted: true, Since: t0}
	distrusted := store.Trust{OrgKey: "o", Field: "ip", Trusted: false, Since: t0, SinceRunID: 7, Evidence: "old"}
	agree := func(compared, disagreed, sampled, missed int) store.Agreement {
		return store.Agreement{OrgKey: "o", Field: "ip", Compared: compared, Disagreed: disagreed, Sampled: sampled, Missed: missed}
	}
	for _, tt := range []struct {
		name  string
		prev  store.Trust
		known bool
		a     store.Agreement
		want  store.Trust
	}{
		{"no record, all agree", store.Trust{}, false, agree(500, 0, 10, 0),
			store.Trust{OrgKey: "o", Field: "ip", Trusted: true, Since: t1}},
		{"1% exactly is within", trusted, true, agree(500, 5, 10, 0), trusted},
		{"one disagreement is not a verdict", trusted, true, agree(20, 1, 0, 0), trusted},
		{"two of 150 (1.3%)", trusted, true, agree(150, 2, 10, 0),
			store.Trust{OrgKey: "o", Field: "ip", Trusted: false, Since: t1, SinceRunID: 9,
				Evidence: "run 9: 2 of 150 comparisons disagreed (1.3%); 0 changes missed in an audit sample of 10"}},
		{"a missed change", trusted, true, agree(40, 0, 12, 1),
			store.Trust{OrgKey: "o", Field: "ip", Trusted: false, Since: t1, SinceRunID: 9,
				Evidence: "run 9: 0 of 40 comparisons disagreed (0.0%); 1 changes missed in an audit sample of 12"}},
		{"distrusted, still bad: since stays", distrusted, true, agree(300, 300, 0, 0),
			store.Trust{OrgKey: "o", Field: "ip", Trusted: false, Since: t0, SinceRunID: 7,
				Evidence: "run 9: 300 of 300 comparisons disagreed (100.0%); 0 changes missed in an audit sample of 0"}},
		{"distrusted, first good run", distrusted, true, agree(300, 0, 0, 0),
			store.Trust{OrgKey: "o", Field: "ip", Trusted: false, Since: t0, SinceRunID: 7, GoodRuns: 1, Evidence: "old"}},
		{"distrusted, third good run", store.Trust{OrgKey: "o", Field: "ip", Since: t0, SinceRunID: 7, GoodRuns: 2, Evidence: "old"}, true, agree(300, 3, 0, 0),
			store.Trust{OrgKey: "o", Field: "ip", Trusted: true, Since: t1, SinceRunID: 9, Evidence: "old"}},
		{"distrusted, nothing compared", distrusted, true, agree(0, 0, 0, 0), distrusted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, judge(tt.prev, tt.known, tt.a, 9, t1)); diff != "" {
				t.Errorf("judge (-want +got):\n%s", diff)
			}
		})
	}
}
