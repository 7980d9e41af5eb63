package cli

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
)

func TestProgressLogsPeriodicallyWhenNotATerminal(t *testing.T) {
	t.Parallel()
	var out, logs bytes.Buffer
	report := newProgress(&out, slog.New(slog.NewJSONHandler(&logs, nil)))
	report(syncrun.Progress{RunID: 9, Total: 1000, Done: 100, Throttled: 2, Elapsed: 2 * time.Second})
	report(syncrun.Progress{RunID: 9, Total: 1000, Done: 200, Elapsed: 3 * time.Second})  // within 5 s: quiet
	report(syncrun.Progress{RunID: 9, Total: 1000, Done: 1000, Elapsed: 9 * time.Second}) // the end: always
	if out.Len() != 0 {
		t.Errorf("a bar was drawn on a non-terminal: %q", out.String())
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d progress lines, want 2:\n%s", len(lines), logs.String())
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"msg": "progress", "run_id": float64(9), "done": float64(100), "total": float64(1000),
		"per_second": float64(50), "throttled": float64(2), "eta_seconds": float64(18)}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %v, want %v", k, first[k], v)
		}
	}
}
