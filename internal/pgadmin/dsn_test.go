package pgadmin

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dsn, want string
	}{
		{"url without password", "postgres://postgres@127.0.0.1:5432/postgres", "postgres://postgres@127.0.0.1:5432/postgres"},
		{"url with password", "postgres://app:s3cr%40t@db:5432/postgres?sslmode=disable", "postgres://app:xxxxx@db:5432/postgres?sslmode=disable"},
		{"url password parameter", "postgresql://app@db/postgres?password=s3cret&sslmode=disable", "postgresql://app@db/postgres?password=xxxxx&sslmode=disable"},
		{"url with several hosts", "postgres://app:s3cret@db1:5432,db2:5432/postgres", "postgres://app:xxxxx@db1:5432,db2:5432/postgres"},
		{"keyword value", "host=db user=app password=s3cret dbname=postgres", "host=db user=app password=xxxxx dbname=postgres"},
		{"keyword value quoted", "host=db password = 'a b\\'c' dbname=postgres", "host=db password = xxxxx dbname=postgres"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Redact(tt.dsn); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
		})
	}
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dsn, want string
	}{
		{"url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/pgtest_1?sslmode=disable"},
		{"url without path", "postgres://postgres@127.0.0.1", "postgres://postgres@127.0.0.1/pgtest_1"},
		{"url dbname parameter", "postgres://postgres@h/postgres?dbname=postgres&sslmode=disable", "postgres://postgres@h/pgtest_1?sslmode=disable"},
		{"url with several hosts", "postgres://app:pw@db1:5432,db2:5432/postgres", "postgres://app:pw@db1:5432,db2:5432/pgtest_1"},
		{"keyword value", "host=h dbname=postgres", "host=h dbname=postgres dbname=pgtest_1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := WithDatabase(tt.dsn, "pgtest_1")
			if err != nil {
				t.Fatalf("WithDatabase(%q): %v", tt.dsn, err)
			}
			if got != tt.want {
				t.Errorf("WithDatabase(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
			// What matters is what pgx makes of it.
			cfg, err := pgconn.ParseConfig(got)
			if err != nil {
				t.Fatalf("pgconn.ParseConfig(%q): %v", got, err)
			}
			if cfg.Database != "pgtest_1" {
				t.Errorf("pgx reads database %q from %q, want pgtest_1", cfg.Database, got)
			}
		})
	}
}
