package exitcode

import (
	"errors"
	"flag"
	"fmt"
	"testing"
)

type usage struct{}

func (usage) Error() string { return "bad flag" }
func (usage) ExitCode() int { return Usage }

func TestOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"help", fmt.Errorf("parse: %w", flag.ErrHelp), OK},
		{"plain error", errors.New("database down"), Failed},
		{"a code, wrapped", fmt.Errorf("run: %w", &Error{Code: Partial, Err: errors.New("3 devices failed")}), Partial},
		{"the outer code wins", &Error{Code: Interrupted, Err: &Error{Code: Failed, Err: errors.New("x")}}, Interrupted},
		{"another type with ExitCode", fmt.Errorf("flags: %w", usage{}), Usage},
	} {
		if got := Of(tt.err); got != tt.want {
			t.Errorf("%s: Of = %d, want %d", tt.name, got, tt.want)
		}
	}
}
