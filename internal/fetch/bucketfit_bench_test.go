package fetch

import (
	"testing"
	"time"
)

func BenchmarkFitRecord(b *testing.B) {
	for _, n := range []int{256, 4096} {
		recs := make([]sendRec, n)
		for i := range recs {
			recs[i] = sendRec{at: govT0.Add(time.Duration(i) * 40 * time.Millisecond), out: outAccepted}
		}
		recs[0].out = outBurst
		recs[n-1].out = outBurst
		b.Run(time.Duration(n).String(), func(b *testing.B) {
			for b.Loop() {
				fitRecord(recs, startRefused, fitSlack, 0.05, 100, 4096)
			}
		})
	}
}
