package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/wxc-inventory/wxc-sync/internal/localpg"
)

// startCluster builds and starts a throwaway cluster from local binaries,
// with internal/localpg. localpg runs it as the postgres user when the tests
// run as root (as they do on the dev machines and in CI), and sweeps the
// clusters of test processes that died without running Main.
func startCluster(ctx context.Context) (*server, error) {
	binDir, err := localpg.Available()
	if err != nil {
		// Absence, not breakage: it may become a skip. noServerError gives
		// the harness's own advice, so keep only what was searched.
		if searched := errors.Unwrap(err); searched != nil {
			err = searched
		}
		return nil, fmt.Errorf("%w: %v", errUnavailable, err)
	}
	c, err := localpg.Start(ctx)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1"
	if u, err := url.Parse(c.URL()); err == nil {
		addr = u.Host
	}
	return &server{
		url:  c.URL(),
		desc: fmt.Sprintf("throwaway cluster from %s on %s", binDir, addr),
		stop: c.Stop,
	}, nil
}
