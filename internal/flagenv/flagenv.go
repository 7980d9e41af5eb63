// Package flagenv is the command line of the job's binaries (wxc-sync,
// webexsim, wxc-bench): a flag.FlagSet whose flags fall back to environment
// variables, with one precedence (flag > environment > default), help that
// names each flag's variables, and errors that never echo a value (a
// variable may hold a secret).
package flagenv

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
)

// UsageError is a bad command line or environment value. CommandLine says
// it came from the arguments rather than the environment.
type UsageError struct {
	Err         error
	CommandLine bool
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// ExitCode is a usage error's exit code (exitcode.Of reads it).
func (e *UsageError) ExitCode() int { return exitcode.Usage }

// FlagSet is a flag.FlagSet whose flags fall back to environment variables.
type FlagSet struct {
	*flag.FlagSet
	envs   map[string][]string // flag name -> variables, the first set wins
	prefix string
	source map[string]string // flag name -> where its value came from
}

// New makes an empty FlagSet. It prints nothing itself: Parse returns
// flag.ErrHelp for -h and --help, and the caller prints the help it wants
// (WriteFlags lists the flags).
func New(name string) *FlagSet {
	fs := &FlagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), envs: map[string][]string{}, source: map[string]string{}}
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// BindEnv declares that flag name falls back to the environment variables
// envs, the first one set winning.
func (fs *FlagSet) BindEnv(name string, envs ...string) {
	fs.envs[name] = append(fs.envs[name], envs...)
}

// BindPrefix makes every flag without a BindEnv fall back to prefix plus
// its name in upper snake case: --fault-rate-503 is PREFIX_FAULT_RATE_503.
func (fs *FlagSet) BindPrefix(prefix string) { fs.prefix = prefix }

// EnvOf returns the variables flag name falls back to.
func (fs *FlagSet) EnvOf(name string) []string {
	if envs, ok := fs.envs[name]; ok {
		return envs
	}
	if fs.prefix != "" && fs.Lookup(name) != nil {
		return []string{fs.prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
	}
	return nil
}

// Source says where flag name's value came from: "--name", the
// environment variable's name, or "" for the default.
func (fs *FlagSet) Source(name string) string { return fs.source[name] }

// Parse parses args, which must hold flags only, then fills every flag not
// given from its environment variables. The environment is applied after
// parsing, so that help never shows an environment value. It returns
// flag.ErrHelp for a help request, and a *UsageError listing every bad
// value otherwise.
func (fs *FlagSet) Parse(args []string, getenv func(string) string) error {
	if err := fs.parseFlags(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &UsageError{Err: fmt.Errorf("unexpected argument %q", fs.Arg(0)), CommandLine: true}
	}
	return fs.applyEnv(getenv)
}

// ParseInterspersed is Parse for commands that take arguments: flags may
// come before, between or after them, and everything after "--" is an
// argument. It returns the arguments.
func (fs *FlagSet) ParseInterspersed(args []string, getenv func(string) string) ([]string, error) {
	var positional, afterDash []string
	for i, a := range args {
		if a == "--" {
			args, afterDash = args[:i], args[i+1:]
			break
		}
	}
	rest := args
	for {
		if err := fs.parseFlags(rest); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if err := fs.applyEnv(getenv); err != nil {
		return nil, err
	}
	return append(positional, afterDash...), nil
}

func (fs *FlagSet) parseFlags(args []string) error {
	fs.VisitAll(checkValue)
	if err := fs.FlagSet.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Err: err, CommandLine: true}
	}
	fs.Visit(func(f *flag.Flag) { fs.source[f.Name] = "--" + f.Name })
	return nil
}

func (fs *FlagSet) applyEnv(getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if fs.source[f.Name] != "" {
			return // given on the command line
		}
		for _, env := range fs.EnvOf(f.Name) {
			v := getenv(env)
			if v == "" {
				continue
			}
			if err := fs.Set(f.Name, v); err != nil {
				// Do not echo the value: the variable may hold a secret.
				errs = append(errs, fmt.Errorf("environment variable %s (for --%s) is not valid: %s",
					env, f.Name, strings.ReplaceAll(err.Error(), v, "…")))
			} else {
				fs.source[f.Name] = env
			}
			return
		}
	})
	if len(errs) > 0 {
		return &UsageError{Err: errors.Join(errs...)}
	}
	return nil
}

// WriteFlags lists the flags for a help text: each with its argument, its
// usage, its variables and its default.
func (fs *FlagSet) WriteFlags(w io.Writer) {
	fs.VisitAll(func(f *flag.Flag) {
		g := *f
		if c, ok := f.Value.(*checkedValue); ok {
			g.Value = c.Value // UnquoteUsage names the argument by its type
		}
		name, usage := flag.UnquoteUsage(&g)
		fmt.Fprintf(w, "  --%s %s\n    \t%s", f.Name, name, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if envs := fs.EnvOf(f.Name); len(envs) > 0 {
			fmt.Fprintf(w, " (env %s)", strings.Join(envs, ", then "))
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// checkedValue is a flag's value as Parse sees it: a value the flag
// package cannot read (--rate fast) is an error that says what the flag
// wants instead of "parse error", and leaves the flag's value as it was
// (the flag package's numbers become 0), so that a later check does not
// report a value nobody gave.
type checkedValue struct {
	flag.Value
	want string // "a number such as 2.5"; "" for the flag's own errors
}

func checkValue(f *flag.Flag) {
	if _, done := f.Value.(*checkedValue); done {
		return
	}
	name, _ := flag.UnquoteUsage(&flag.Flag{Value: f.Value})
	want := map[string]string{
		"float":    "a number such as 2.5",
		"int":      "a whole number",
		"uint":     "a whole number, 0 or more",
		"duration": "a duration such as 30s, 5m or 1h30m",
	}[name]
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		want = "true or false"
	}
	f.Value = &checkedValue{Value: f.Value, want: want}
}

func (c *checkedValue) Set(s string) error {
	if c.want == "" {
		return c.Value.Set(s)
	}
	old := c.Value.String()
	err := c.Value.Set(s)
	if err == nil {
		return nil
	}
	_ = c.Value.Set(old) // a number, duration or bool reads back its own text
	if err.Error() == "value out of range" {
		return fmt.Errorf("out of range: want %s", c.want)
	}
	return fmt.Errorf("want %s", c.want)
}

// IsBoolFlag keeps a boolean flag one that takes no argument.
func (c *checkedValue) IsBoolFlag() bool {
	b, ok := c.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// Get keeps the flag a flag.Getter.
func (c *checkedValue) Get() any {
	if g, ok := c.Value.(flag.Getter); ok {
		return g.Get()
	}
	return nil
}
