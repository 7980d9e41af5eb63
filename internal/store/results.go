package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/queries"
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
}

func (c *BatchCounts) Add(o BatchCounts) {
	c.OK += o.OK
	c.NotFound += o.NotFound
	c.Failed += o.Failed
	c.Changed += o.Changed
	c.Changes += o.Changes
	c.Missing += o.Missing
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
	if len(results) == 1 {
		r := results[0]
		if r.Outcome != OutcomeOK {
			return BatchCounts{}, err
		}
		bad := Result{DeviceID: r.DeviceID, Outcome: OutcomeError,
			Error: "the details could not be stored: " + err.Error()}
		return s.applyOnce(ctx, runID, []Result{bad})
	}
	half := len(results) / 2
	var total BatchCounts
	for _, part := range [][]Result{results[:half], results[half:]} {
		c, err := s.ApplyResults(ctx, runID, part)
		if err != nil {
			return total, err
		}
		total.Add(c)
	}
	return total, nil
}

// applyArgs lays a batch out as the column arrays ApplyResults unnests.
func applyArgs(runID int64, results []Result) (pgx.NamedArgs, error) {
	n := len(results)
	var (
		ids, outcomes                     = make([]string, n), make([]string, n)
		manufacturers, managedBys, models = make([]*string, n), make([]*string, n), make([]*string, n)
		ips, macs, states                 = make([]*string, n), make([]*string, n), make([]*string, n)
		tags, details, errs               = make([]*string, n), make([]*string, n), make([]*string, n)
		sipUsers, linePorts, proxies      = make([]*string, n), make([]*string, n), make([]*string, n)
		upgrades                          = make([]*bool, n)
	)
	for i, r := range results {
		ids[i] = r.DeviceID
		outcomes[i] = string(r.Outcome)
		if r.Outcome != OutcomeOK {
			errs[i] = nullable(r.Error)
			continue
		}
		d := r.Device
		manufacturers[i] = nullable(d.Manufacturer)
		managedBys[i] = nullable(d.ManagedBy)
		models[i] = nullable(d.Model)
		if d.IP.IsValid() {
			s := d.IP.String()
			ips[i] = &s
		}
		if d.MAC != nil {
			s := d.MAC.String()
			macs[i] = &s
		}
		states[i] = nullable(string(d.ActivationState))
		if d.Tags != nil {
			b, err := json.Marshal(d.Tags)
			if err != nil {
				return nil, fmt.Errorf("encode tags of %s: %w", d.ID, err)
			}
			t := string(b)
			tags[i] = &t
		}
		upgrades[i] = d.UpgradeChannelEnabled
		sipUsers[i] = nullable(d.OwnerSIPUserName)
		linePorts[i] = nullable(d.OwnerLinePort)
		proxies[i] = nullable(d.OutboundProxy)
		if len(d.Raw) > 0 {
			raw := string(d.Raw)
			details[i] = &raw
		}
	}
	return pgx.NamedArgs{
		"run_id":                   runID,
		"device_ids":               ids,
		"outcomes":                 outcomes,
		"manufacturers":            manufacturers,
		"managed_bys":              managedBys,
		"models":                   models,
		"ips":                      ips,
		"macs":                     macs,
		"activation_states":        states,
		"tags":                     tags,
		"upgrade_channel_enableds": upgrades,
		"owner_sip_user_names":     sipUsers,
		"owner_line_ports":         linePorts,
		"outbound_proxies":         proxies,
		"details":                  details,
		"errors":                   errs,
	}, nil
}

func (s *Store) applyOnce(ctx context.Context, runID int64, results []Result) (BatchCounts, error) {
	args, err := applyArgs(runID, results)
	if err != nil {
		return BatchCounts{}, err
	}
	var c BatchCounts
	// One statement: it commits whole or not at all, so sending it again
	// after a lost connection cannot half-write a batch. Devices already
	// written compare equal the second time and add no history.
	err = withRetry(ctx, func() error {
		return s.pool.QueryRow(ctx, queries.Get("ApplyResults"), args).Scan(&c.OK, &c.NotFound, &c.Failed, &c.Changed, &c.Changes)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return BatchCounts{}, fmt.Errorf("store results: run %d does not exist", runID)
	}
	if err != nil {
		return BatchCounts{}, fmt.Errorf("store results: %w", err)
	}
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
