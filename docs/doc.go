// Package docs holds the user documentation (README.md's reference pages)
// and the tests that keep it true: every relative link and #anchor of
// README.md and docs/*.md names a file and a heading that exist, and
// SCHEMA.md names every table, view and column of the migrated schema
// (against a real PostgreSQL, as the other packages' tests).
package docs
