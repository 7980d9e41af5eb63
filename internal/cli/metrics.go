package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
)

// pushMetrics sends a finished run's metrics to a Prometheus Pushgateway,
// as Prometheus advises for batch jobs: the last success timestamp is
// pushed only on success, with POST (Add), so that a failed run leaves the
// previous success in place and an alert on its age fires.
// detailMaxAge, the run's --detail-max-age, is pushed too, so that the
// staleness alert compares the details' age with the bound this job was
// given rather than with a copy of it in the rules. tolerated is the failed
// devices --tolerate-forbidden forgave (0 without it), pushed so that the
// failing-devices alert leaves them out as the exit code does.
func pushMetrics(ctx context.Context, gatewayURL string, s syncrun.Summary, success bool, tolerated int, detailMaxAge time.Duration, now time.Time) error {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		g.Set(v)
		reg.MustRegister(g)
	}
	gauge("wxc_sync_last_completion_timestamp_seconds", "When the last run ended, whatever its outcome.", float64(now.Unix()))
	if success {
		gauge("wxc_sync_last_success_timestamp_seconds", "When the last run ended with every device it reached synced.", float64(now.Unix()))
	}
	gauge("wxc_sync_last_duration_seconds", "How long the last run took.", s.Duration.Seconds())
	gauge("wxc_sync_last_throttled", "429 and 423 answers the last run received.", float64(s.Throttled))
	gauge("wxc_sync_last_throttled_seconds", "How long throttles (429, 423) held every request of the last run: the pauses' wall time, overlaps counted once.", s.Paused.Seconds())
	gauge("wxc_sync_detail_max_age_seconds", "The last run's --detail-max-age: details older than this are fetched again whatever the listing says.", detailMaxAge.Seconds())
	gauge("wxc_sync_last_listing_distrusted_orgs", "Orgs whose device listing is not trusted for some field after the last run's check: their devices are all fetched.", float64(s.Listing.DistrustedAfter))
	gauge("wxc_sync_last_requests", "HTTP requests the last run sent.", float64(s.Requests))
	gauge("wxc_sync_last_run_id", "The sync_runs.run_id of the last run.", float64(s.RunID))
	gauge("wxc_sync_last_listing_requests", "Requests of the last run's device listing sweep (part of wxc_sync_last_requests).", float64(s.Listing.Requests))
	gauge("wxc_sync_last_devices_confirmed", "Devices the last run's listing vouched for: no details request (not in wxc_sync_last_devices).", float64(s.Listing.Confirmed))
	gauge("wxc_sync_last_listing_comparisons", "Field comparisons of the last run between the listing and the details it fetched.", float64(s.Listing.Compared))
	gauge("wxc_sync_last_listing_disagreements", "Of them, those where the listing and the details disagreed.", float64(s.Listing.Disagreed))
	gauge("wxc_sync_last_devices_sampled", "Devices the listing vouched for that the last run fetched all the same, to check it.", float64(s.Listing.Due["sample"]))
	gauge("wxc_sync_last_devices_refreshed", "Devices the last run fetched only because their details were due a refresh (max age).", float64(s.Listing.Due["max_age"]))
	if s.DetailsAgeKnown && s.DetailsAge.WithDetails > 0 {
		// Left out when unknown: the Pushgateway keeps the last measured
		// value rather than a fresh-looking 0.
		gauge("wxc_sync_last_details_age_max_seconds", "Age of the oldest device details held for the scope when the last run ended.", s.DetailsAge.Oldest.Seconds())
		gauge("wxc_sync_last_details_age_p99_seconds", "99th percentile of the age of the device details held for the scope when the last run ended.", s.DetailsAge.P99.Seconds())
	}
	gauge("wxc_sync_last_missed_changes", "Changes the last run's audit sample found that the listing had not shown.", float64(s.Listing.Missed))
	// The outcomes do not overlap, so sum(wxc_sync_last_devices) is the
	// devices due. A changed device is also ok: it has a metric of its own.
	devices := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wxc_sync_last_devices", Help: "Devices due in the last run, by outcome (the outcomes do not overlap).",
	}, []string{"outcome"})
	gauge("wxc_sync_last_devices_changed", "Devices of the last run whose activation state, IP or MAC changed (counted in outcome ok too).", float64(s.Counts.Changed))
	for outcome, n := range map[string]int{
		"ok": s.Counts.OK, "not_found": s.Counts.NotFound, "failed": s.Counts.Failed,
		"skipped": s.Counts.Skipped,
	} {
		devices.WithLabelValues(outcome).Set(float64(n))
	}
	reg.MustRegister(devices)
	gauge("wxc_sync_last_devices_failed_tolerated", "Of the last run's failed devices, those --tolerate-forbidden forgave: forbidden in the run before too (0 without the flag).", float64(tolerated))
	status := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wxc_sync_last_status", Help: "1 for the status the last run ended with.",
	}, []string{"status"})
	for _, st := range []store.RunStatus{store.RunSucceeded, store.RunPartial, store.RunFailed, store.RunInterrupted} {
		v := 0.0
		if st == s.Status {
			v = 1
		}
		status.WithLabelValues(string(st)).Set(v)
	}
	reg.MustRegister(status)

	// Credentials in the URL (https://user:password@gateway) go as basic
	// auth, and out of the URL that the push's errors quote.
	u, err := url.Parse(gatewayURL)
	if err != nil {
		return fmt.Errorf("push metrics: the Pushgateway URL does not parse")
	}
	user := u.User
	u.User = nil
	hc := &http.Client{Timeout: 10 * time.Second}
	p := push.New(u.String(), "wxc_sync").Gatherer(reg).Grouping("scope", s.Scope.String()).Client(hc)
	if user != nil {
		password, _ := user.Password()
		p = p.BasicAuth(user.Username(), password)
	}
	if err := p.AddContext(ctx); err != nil {
		return fmt.Errorf("push metrics to the Pushgateway: %w", err)
	}
	return nil
}
