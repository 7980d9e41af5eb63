// Package queries owns the SQL the job runs, kept in .sql files beside this
// one so that it can be read, reviewed, EXPLAINed and run with psql. sqlc
// turns the statements (each introduced by a "-- name: Name :kind" line)
// into typed Go in internal/dbsqlc: go generate ./queries rebuilds it, and
// CI's "sqlc diff" (.ci/run) fails when the committed code is stale.
// Reporting SQL for users lives in the reports folder and runs as it is
// with psql -f; the page folder holds the fleet page's queries
// (internal/fleetpage), which run the same way.
package queries

//go:generate go run github.com/sqlc-dev/sqlc/cmd/sqlc@v1.31.1 generate -f ../sqlc.yaml

import (
	"embed"
	"io/fs"
)

//go:embed reports/*.sql page/*.sql
var files embed.FS

// Reports is the folder of reporting SQL files, as shipped.
func Reports() fs.FS {
	sub, err := fs.Sub(files, "reports")
	if err != nil {
		panic(err)
	}
	return sub
}

// Page is the folder of the fleet page's SQL files.
func Page() fs.FS {
	sub, err := fs.Sub(files, "page")
	if err != nil {
		panic(err)
	}
	return sub
}
