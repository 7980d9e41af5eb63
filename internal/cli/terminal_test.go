package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if isTerminal(null) {
		t.Errorf("%s counts as a terminal", os.DevNull)
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if !isTerminal(tty) {
		t.Errorf("a pseudo-terminal does not count as a terminal")
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Errorf("a buffer counts as a terminal")
	}
}

// screen replays what a program wrote to a terminal cols wide, as a
// terminal would draw it: CR returns to the row's start, LF goes down, CSI K
// erases to the end of the row, a full row wraps. It returns every row.
func screen(out []byte, cols int) []string {
	rows := [][]rune{{}}
	row, col := 0, 0
	put := func(r rune) {
		if col >= cols {
			row, col = row+1, 0
		}
		for len(rows) <= row {
			rows = append(rows, []rune{})
		}
		for len(rows[row]) <= col {
			rows[row] = append(rows[row], ' ')
		}
		rows[row][col] = r
		col++
	}
	s := []rune(string(out))
	for i := 0; i < len(s); i++ {
		switch r := s[i]; {
		case r == '\r':
			col = 0
		case r == '\n':
			row, col = row+1, 0
			for len(rows) <= row {
				rows = append(rows, []rune{})
			}
		case r == 0x1b && i+1 < len(s) && s[i+1] == '[':
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			if j < len(s) && s[j] == 'K' && col < len(rows[row]) {
				rows[row] = rows[row][:col]
			}
			i = j
		default:
			put(r)
		}
	}
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = strings.TrimRight(string(r), " ")
	}
	return lines
}

// Under a pseudo-terminal, a run draws its bar and logs its per-device
// warnings without either landing on the other's row, labels what the bar
// counts, clears it at the end and says in words how the run went.
func TestRunOnATerminal(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 300)
	ids := sim.IDs()
	sort.Strings(ids)
	for i := 0; i < len(ids); i += 10 {
		sim.SetFault(ids[i], webexsim.Fault{Kind: webexsim.FaultForbidden})
	}
	db := pgtest.DBURL(t)
	track(t, db, ids)

	const cols = 80
	cmd := exec.Command(binary(t), "run", "--api-url", base, "--rate", "150", "--burst", "5", "--batch-size", "10")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + db, "WEBEX_TOKEN=" + cliToken, "TERM=xterm"}
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out bytes.Buffer
	if _, err := io.Copy(&out, ptmx); err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatal(err) // EIO is how Linux says the other side closed
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitcode.Partial {
		t.Fatalf("exit: %v, want %d\n%s", err, exitcode.Partial, out.String())
	}
	raw := out.String()
	if strings.Contains(raw, cliToken) {
		t.Fatal("the token reached the terminal")
	}
	if !strings.Contains(raw, "throttled requests") || !strings.Contains(raw, "/300 devices") {
		t.Fatalf("no progress bar was drawn:\n%q", raw)
	}
	if strings.Contains(raw, "429s") {
		t.Errorf("the bar still says 429s")
	}
	rows := screen(out.Bytes(), cols)
	warnings := 0
	for _, r := range rows {
		if strings.Contains(r, "/300 devices") {
			t.Errorf("a bar is left on screen (cleared bars leave none): %q", r)
		}
		// Log lines wrap at 80 columns; their first row holds the level.
		if strings.Contains(r, " level=") && !strings.HasPrefix(r, "time=") {
			t.Errorf("a log line does not start its own row: %q", r)
		}
		if strings.Contains(r, `msg="device is not visible`) {
			warnings++
		}
	}
	if warnings != 30 {
		t.Errorf("%d per-device warnings on screen, want 30:\n%s", warnings, strings.Join(rows, "\n"))
	}
	text := strings.Join(rows, "\n")
	for _, want := range []string{
		`msg="run finished"`, // the machine-readable line stays
		"finished in", "with 30 devices of 300 not synced",
		"Synced:    270 devices",
		"Failed:    30 devices", Name + " report failing_devices",
		"Changed:   270 devices",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the terminal does not show %q:\n%s", want, text)
		}
	}
}

// The bar fits an 80-column terminal for a fleet of up to 99,999 devices,
// and says what each figure counts.
func TestBarText(t *testing.T) {
	t.Parallel()
	got := barText(syncrun.Progress{Total: 99999, Done: 50000, Throttled: 12}, 123, 7*time.Minute+3*time.Second)
	want := "[########........] 50000/99999 devices  123/s  12 throttled requests  ETA 7m3s"
	if got != want {
		t.Errorf("barText = %q, want %q", got, want)
	}
	if len(got) > 79 {
		t.Errorf("bar is %d columns wide, more than an 80-column terminal holds", len(got))
	}
}
