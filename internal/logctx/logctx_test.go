package logctx

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestAttributesFollowTheContext(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := Wrap(Wrap(slog.New(slog.NewJSONHandler(&buf, nil))))
	ctx := With(With(context.Background(), slog.Int64("run_id", 7)), slog.String("scope", "1/4"))
	log.LogAttrs(ctx, slog.LevelInfo, "hello", slog.String("device_id", "D"))
	log.Info("no context")
	dec := json.NewDecoder(&buf)
	var first, second map[string]any
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&second); err != nil {
		t.Fatal(err)
	}
	if first["run_id"] != float64(7) || first["scope"] != "1/4" || first["device_id"] != "D" {
		t.Errorf("line under the context = %v", first)
	}
	if _, ok := second["run_id"]; ok {
		t.Errorf("line without the context carries run_id: %v", second)
	}
}
