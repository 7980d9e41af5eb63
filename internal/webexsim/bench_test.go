package webexsim

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// BenchmarkDetails measures loopback GET + decode throughput of device details
// through a real listener, with all the client's work included.
func BenchmarkDetails(b *testing.B) {
	s, err := New(Config{Devices: 100_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	base, err := s.Start("")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ids := s.IDs()
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = detailsURL(base, id)
	}
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var body struct {
			ID string `json:"id"`
		}
		i := 0
		for pb.Next() {
			i = (i + 7919) % len(urls)
			req, _ := http.NewRequest(http.MethodGet, urls[i], nil)
			req.Header.Set("Authorization", "Bearer "+DefaultToken)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			err = json.NewDecoder(res.Body).Decode(&body)
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != 200 {
				b.Errorf("status %d, decode %v", res.StatusCode, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkNew measures generating a large population.
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(Config{Devices: 100_000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
