// Package scripts holds the SQL scripts operators run with psql; the job
// embeds the least-privilege grants so that "wxc-sync check" tests a role
// against the very list an operator applies.
package scripts

import _ "embed"

// LeastPrivilege is least-privilege.sql: the grants "run --no-migrate" needs.
//
//go:embed least-privilege.sql
var LeastPrivilege string
