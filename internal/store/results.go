package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
	"github.com/wxc-inventory/wxc-sync/internal/device"
)

// Outcome is what a run learned about one device; it becomes
// devices.sync_status.
type Outcome string

const (
	OutcomeOK        Outcome = "ok"
	OutcomeNotFound  Outcome = "not_found"
	OutcomeForbidden Outcome = "forbidden"
	OutcomeError     Outcome = "error"
)

// Result is one device's fetch result, ready to store.
type Result struct {
	DeviceID string
	Outcome  Outcome
	Device   device.Device // for OutcomeOK
	Error    string        // for the other outcomes
}

// BatchCounts is what one ApplyResults call wrote.
type BatchCounts struct {
	OK, NotFound, Failed int
	Changed              int // devices with at least one history row
	Changes              int // history rows
	Missing              int // results whose device row no longer exists
	// Resent counts the batches sent again after an attempt whose outcome
	// is unknown (its connection was lost, perhaps after the commit): such
	// a batch may have been applied twice, and then the run's counters in
	// sync_runs count it twice. FinishRun recounts from the tables then.
	// Set even when ApplyResults returns an error.
	Resent int
}

func (c *BatchCounts) Add(o BatchCounts) {
	c.OK += o.OK
	c.NotFound += o.NotFound
	c.Failed += o.Failed
	c.Changed += o.Changed
	c.Changes += o.Changes
	c.Missing += o.Missing
	c.Resent += o.Resent
}

// ApplyResults stores a batch of results for run runID in one statement:
// device rows, history rows and the run's counters commit together or not
// at all. If PostgreSQL rejects a value (a data error), the batch is split
// to find the result that carries it; that device is stored as an error
// instead, so one bad payload cannot lose the rest of the batch.
func (s *Store) ApplyResults(ctx context.Context, runID int64, results []Result) (BatchCounts, error) {
	if len(results) == 0 {
		return BatchCounts{}, nil
	}
	counts, err := s.applyOnce(ctx, runID, results)
	if err == nil || !isDataError(err) {
		return counts, err
	}
	// A data error is PostgreSQL's answer: nothing of the batch committed.
	if len(results) == 1 {
		r := results[0]
		if r.Outcome != OutcomeOK {
			return counts, err
		}
		bad := Result{DeviceID: r.DeviceID, Outcome: OutcomeError,
			Error: "the details could not be stored: " + err.Error()}
		c, err := s.applyOnce(ctx, runID, []Result{bad})
		c.Resent += counts.Resent
		return c, err
	}
	half := len(results) / 2
	total := BatchCounts{Resent: counts.Resent}
	for _, part := range [][]Result{results[:half], results[half:]} {
		c, err := s.ApplyResults(ctx, runID, part)
		total.Add(c)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// applyParams lays a batch out as the column arrays ApplyResults unnests,
// with "" for NULL.
func applyParams(runID int64, results []Result) (dbsqlc.ApplyResultsParams, error) {
	n := len(results)
	col := func() []string { return make([]string, n) }
	p := dbsqlc.ApplyResultsParams{
		RunID: runID, DeviceIds: col(), Outcomes: col(), Manufacturers: col(), ManagedBys: col(),
		Models: col(), Ips: col(), Macs: col(), ActivationStates: col(), Tags: col(),
		UpgradeChannelEnableds: col(), OwnerSipUserNames: col(), OwnerLinePorts: col(),
		OutboundProxies: col(), Details: col(), Errors: col(),
	}
	for i, r := range results {
		p.DeviceIds[i] = r.DeviceID
		p.Outcomes[i] = string(r.Outcome)
		if r.Outcome != OutcomeOK {
			p.Errors[i] = cleanText(r.Error)
			continue
		}
		d := r.Device
		p.Manufacturers[i] = cleanText(d.Manufacturer)
		p.ManagedBys[i] = cleanText(d.ManagedBy)
		p.Models[i] = cleanText(d.Model)
		if d.IP.IsValid() {
			p.Ips[i] = d.IP.String()
		}
		if d.MAC != nil {
			p.Macs[i] = d.MAC.String()
		}
		p.ActivationStates[i] = cleanText(string(d.ActivationState))
		if d.Tags != nil {
			b, err := json.Marshal(d.Tags)
			if err != nil {
				return p, fmt.Errorf("encode tags of %s: %w", d.ID, err)
			}
			p.Tags[i] = string(b)
		}
		if d.UpgradeChannelEnabled != nil {
			p.UpgradeChannelEnableds[i] = strconv.FormatBool(*d.UpgradeChannelEnabled)
		}
		p.OwnerSipUserNames[i] = cleanText(d.OwnerSIPUserName)
		p.OwnerLinePorts[i] = cleanText(d.OwnerLinePort)
		p.OutboundProxies[i] = cleanText(d.OutboundProxy)
		p.Details[i] = string(d.Raw)
	}
	return p, nil
}

func (s *Store) applyOnce(ctx context.Context, runID int64, results []Result) (BatchCounts, error) {
	params, err := applyParams(runID, results)
	if err != nil {
		return BatchCounts{}, err
	}
	var row dbsqlc.ApplyResultsRow
	// One statement: it commits whole or not at all, so sending it again
	// after a lost connection cannot half-write a batch. Devices already
	// written compare equal the second time and add no history, but the
	// run's counters move again: Resent says so.
	attempts := 0
	err = s.withRetry(ctx, func(ctx context.Context) error {
		attempts++
		return s.inTx(ctx, func(q *dbsqlc.Queries) error {
			if err := q.PlanBatchWrite(ctx); err != nil {
				return err
			}
			var err error
			row, err = q.ApplyResults(ctx, params)
			return err
		})
	})
	resent := 0
	if attempts > 1 {
		resent = 1
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return BatchCounts{Resent: resent}, fmt.Errorf("store results: run %d does not exist", runID)
	}
	if err != nil {
		return BatchCounts{Resent: resent}, fmt.Errorf("store results: %w", err)
	}
	c := BatchCounts{OK: int(row.Ok), NotFound: int(row.NotFound), Failed: int(row.Failed),
		Changed: int(row.Changed), Changes: int(row.Changes), Resent: resent}
	c.Missing = len(results) - c.OK - c.NotFound - c.Failed
	return c, nil
}

// nullable maps "" to NULL and makes s storable.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	s = cleanText(s)
	return &s
}

// isDataError reports whether PostgreSQL rejected a value (SQLSTATE class
// 22, data exception, or 23, integrity constraint violation), as opposed to
// a connection or server failure that a retry of the same batch may cure.
func isDataError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return len(pe.Code) == 5 && (pe.Code[:2] == "22" || pe.Code[:2] == "23")
}
