package cli

import (
	"flag"
	"fmt"
	"strings"
)

// parseArgs is parse for commands that take arguments (device IDs, a report
// name): flags may come before, between or after them, and everything after
// "--" is an argument (a URL-alphabet ID may start with "-"). The
// environment is applied as parse does.
func (fs *flagSet) parseArgs(args []string, getenv Env) ([]string, error) {
	var positional, afterDash []string
	for i, a := range args {
		if a == "--" {
			args, afterDash = args[:i], args[i+1:]
			break
		}
	}
	rest := args
	for {
		if err := fs.FlagSet.Parse(rest); err != nil {
			return nil, fs.parseErr(err)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	// Flags given are remembered across Parse calls, so this applies the
	// environment to the flags not given anywhere.
	if err := fs.parse(nil, getenv); err != nil {
		return nil, err
	}
	return append(positional, afterDash...), nil
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
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return usageErr("%s", strings.Join(msgs, "\n"))
}

// plural is "1 device", "2 devices".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
