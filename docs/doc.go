// Package docs holds the user documentation (README.md's reference pages)
// and the test that keeps their links true: every relative link and
// #anchor of README.md and docs/*.md names a file and a heading that exist.
package docs
