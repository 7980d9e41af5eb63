package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
)

// parseArgs is parse for commands that take arguments (device IDs, a report
// name): flags may come before, between or after them, and everything after
// "--" is an argument (a URL-alphabet ID may start with "-").
func (fs *flagSet) parseArgs(args []string, getenv Env) ([]string, error) {
	out, err := fs.ParseInterspersed(args, getenv)
	if err := fs.checked(err); err != nil {
		return nil, err
	}
	return out, nil
}

// stringList is a repeatable flag (--param k=v --param k2=v2).
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

var _ flag.Value = (*stringList)(nil)

// usageErrs is a usage error listing every problem, or nil.
func usageErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return &exitcode.Error{Code: exitcode.Usage, Err: errors.Join(errs...)}
}

// plural is "1 device", "2 devices".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
