package pgtest

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/wxc-inventory/wxc-sync/internal/pgadmin"
)

// containerImage is pinned so that every developer and CI test the same
// major version that production runs.
const containerImage = "postgres:16-alpine"

// startContainer starts a PostgreSQL container when Docker answers.
// testcontainers' reaper (ryuk) removes it even if the process dies before
// Main can.
func startContainer(ctx context.Context) (*server, error) {
	if err := dockerAnswers(ctx); err != nil {
		return nil, err
	}
	// Long enough to pull the image on a cold machine.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	ctr, err := tcpostgres.Run(ctx, containerImage,
		tcpostgres.BasicWaitStrategies(),
		// Durability buys nothing in a database thrown away after the tests.
		testcontainers.WithCmd("postgres",
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
	)
	if err != nil {
		_ = testcontainers.TerminateContainer(ctr)
		return nil, fmt.Errorf("start %s: %w", containerImage, err)
	}
	dsn, err := ctr.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		_ = testcontainers.TerminateContainer(ctr)
		return nil, fmt.Errorf("address of %s: %w", containerImage, err)
	}
	return &server{
		url:  dsn,
		desc: "container " + containerImage + " at " + pgadmin.Redact(dsn),
		stop: func() error { return testcontainers.TerminateContainer(ctr) },
	}, nil
}

// dockerAnswers is the quick check that keeps machines without Docker from
// waiting on testcontainers: a socket must be configured or present, and the
// daemon must answer within a few seconds.
func dockerAnswers(ctx context.Context) error {
	if os.Getenv("DOCKER_HOST") == "" {
		if _, err := os.Stat("/var/run/docker.sock"); err != nil {
			return fmt.Errorf("%w: DOCKER_HOST is unset and /var/run/docker.sock does not exist", errUnavailable)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		// testcontainers can panic on a malformed Docker configuration; that
		// means no usable Docker, not a crashed test binary.
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("docker provider panicked: %v", r)
			}
		}()
		p, err := testcontainers.NewDockerProvider()
		if err != nil {
			done <- err
			return
		}
		done <- p.Health(ctx) // Health closes the provider
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%w: Docker did not answer: %v", errUnavailable, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: Docker did not answer within 5s", errUnavailable)
	}
}
