package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// TestLogDurationsAreSeconds: a duration is a number of seconds under a
// key ending in _seconds, on every line, the store's retry of the first
// connection included (it logged "for_up_to":20000000000, nanoseconds).
func TestLogDurationsAreSeconds(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	log := newLogger(logOptions{Format: "json", Level: "info"}, &b)
	// Port 1 on loopback refuses: the first connection is retried, and
	// the retry is logged, until ConnectWithin.
	_, err := store.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1",
		store.OpenOptions{ConnectWithin: 300 * time.Millisecond, Logger: log})
	if err == nil {
		t.Fatal("a database on port 1 was reached")
	}
	var lines int
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		lines++
		if _, ok := m["for_up_to"]; ok {
			t.Errorf("a duration without _seconds: %s", line)
		}
		if v, ok := m["for_up_to_seconds"]; !ok || v != 0.3 {
			t.Errorf("for_up_to_seconds = %v, want 0.3: %s", v, line)
		}
	}
	if lines == 0 {
		t.Fatal("the retry logged nothing")
	}
}
