// Package exitcode is the exit status of the job's binaries (wxc-sync,
// webexsim, wxc-bench): the one table of codes, and the one function that
// reads an error's code. Scripts and Kubernetes pod failure policies act
// on the codes, so they are part of the contract (docs/CONFIGURATION.md, "Exit codes").
package exitcode

import (
	"errors"
	"flag"
)

const (
	OK          = 0 // done: every device synced (not-found devices count as synced)
	Failed      = 1 // failed, for a reason a later run may not have: the database, Webex, the token
	Usage       = 2 // a bad command line or configuration value: a retry with it cannot help
	Partial     = 3 // the run finished but some devices failed
	Interrupted = 4 // stopped by a signal before it finished
)

// Error is Err with the code the process exits with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the code the process exits with.
func (e *Error) ExitCode() int { return e.Code }

// Of is the exit code for err: OK for nil and for a help request
// (flag.ErrHelp), else the code of the first error in its chain that has an
// ExitCode method (an *Error, a flagenv.UsageError), else Failed.
func Of(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return OK
	}
	var c interface{ ExitCode() int }
	if errors.As(err, &c) && c.ExitCode() >= 0 {
		return c.ExitCode()
	}
	return Failed
}
