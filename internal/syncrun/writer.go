package syncrun

import (
	"context"
	"log/slog"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// writer batches results and stores them, one statement per batch.
type writer struct {
	st     *store.Store
	run    store.Run
	cfg    Config
	log    *slog.Logger
	client *fetch.Client
	start  time.Time

	results chan store.Result
	done    chan struct{} // closed when loop returns
	counts  store.BatchCounts
	err     error
}

// loop runs until results is closed and drained, or a write fails. ctx is
// not cancelled by a signal, but ends a grace period after it (afterStop);
// the store bounds each attempt of a write by the server's
// statement_timeout and tries it again after a lost connection.
func (w *writer) loop(ctx context.Context) error {
	batch := make([]store.Result, 0, w.cfg.BatchSize)
	tick := time.NewTicker(w.cfg.FlushInterval)
	defer tick.Stop()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := w.write(ctx, batch)
		batch = batch[:0]
		return err
	}
	for {
		select {
		case r, ok := <-w.results:
			if !ok {
				return flush()
			}
			batch = append(batch, r)
			if len(batch) >= w.cfg.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		case <-tick.C:
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

func (w *writer) write(ctx context.Context, batch []store.Result) error {
	c, err := w.st.ApplyResults(ctx, w.run.ID, batch)
	if err != nil {
		return err
	}
	w.counts.Add(c)
	if c.Missing > 0 {
		w.log.LogAttrs(ctx, slog.LevelInfo, "devices were deleted while the run fetched them",
			slog.Int("devices", c.Missing))
	}
	if w.cfg.OnProgress != nil {
		w.cfg.OnProgress(Progress{
			RunID:     w.run.ID,
			Total:     w.run.Total,
			Done:      w.counts.OK + w.counts.NotFound + w.counts.Failed,
			Throttled: w.client.Stats().Throttled,
			Elapsed:   time.Since(w.start),
		})
	}
	return nil
}
