// Package pgadmin is the one copy of what the test harness (pgtest), the
// benchmark (bench) and the demo do to a PostgreSQL server as its
// administrator: point a connection string at another database, redact a
// connection string for a message, and create, clone and drop databases.
package pgadmin

import (
	"fmt"
	"net/url"
	"regexp"
)

// WithDatabase returns dsn pointing at database name instead. It takes both
// forms pgx accepts: a URL, and keyword=value pairs.
func WithDatabase(dsn, name string) (string, error) {
	if u, ok := postgresURL(dsn); ok {
		u.Path = "/" + name
		u.RawPath = ""
		// pgx lets a dbname query parameter override the path.
		q := u.Query()
		if q.Has("dbname") || q.Has("database") {
			q.Del("dbname")
			q.Del("database")
			u.RawQuery = q.Encode()
		}
		return u.String(), nil
	}
	if isURL.MatchString(dsn) {
		return "", fmt.Errorf("cannot set the database in %s: not a URL net/url can parse", Redact(dsn))
	}
	// In keyword=value form the last of a repeated keyword wins. The names
	// the harness makes need no quoting.
	return dsn + " dbname=" + name, nil
}

const redacted = "xxxxx"

var (
	isURL = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*://`)
	// A keyword=value password, quoted or not, or a password query parameter.
	passwordPair = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:\\.|[^'\\])*'|[^&\s]*)`)
	// The password of a URL's userinfo, for URLs net/url cannot parse (pgx
	// accepts several comma-separated hosts; net/url does not).
	userinfoPassword = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://[^:@/]*:)[^@/]*@`)
)

// Redact returns dsn with any password replaced, fit for a log or a failure
// message: test output ends up in CI logs that many people read.
func Redact(dsn string) string {
	if u, ok := postgresURL(dsn); ok {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", redacted)
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	dsn = userinfoPassword.ReplaceAllString(dsn, "${1}"+redacted+"@")
	return passwordPair.ReplaceAllString(dsn, "${1}"+redacted)
}

// postgresURL parses dsn when it is a postgres:// or postgresql:// URL.
func postgresURL(dsn string) (*url.URL, bool) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, false
	}
	return u, true
}
