package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
)

// TokenSource supplies the bearer token. Refresh is called after a 401 with
// the token that was rejected; it reports whether a different token is now
// available, so that a rotated secret does not fail the run.
type TokenSource interface {
	Token() (string, error)
	Refresh(rejected string) (bool, error)
}

// CheckToken refuses a token that cannot go into an Authorization header
// as it is: whitespace or a control character inside (a CR or LF would
// otherwise fail every request, one device at a time). It never echoes the
// token.
func CheckToken(tok string) error {
	if tok == "" {
		return errors.New("the Webex token is empty")
	}
	for _, r := range tok {
		switch {
		case r == '\r' || r == '\n':
			return errors.New("the Webex token contains a line break (CR or LF); it must be the token alone")
		case unicode.IsSpace(r) || unicode.IsControl(r) || r > unicode.MaxASCII:
			return errors.New("the Webex token contains whitespace, a control character or a non-ASCII character; it must be the token alone")
		}
	}
	return nil
}

// StaticToken is a token that never changes (from WEBEX_TOKEN).
type StaticToken string

func (t StaticToken) Token() (string, error) {
	if err := CheckToken(string(t)); err != nil {
		return "", err
	}
	return string(t), nil
}

func (t StaticToken) Refresh(string) (bool, error) { return false, nil }

// Bounds of a token file read. A Webex token is a few hundred bytes; the
// file may be anything the configuration names: /dev/zero, a FIFO with no
// writer, a hung network mount.
const (
	MaxTokenFileBytes = 16 << 10
	TokenReadTimeout  = 5 * time.Second
)

// FileToken reads the token from a file (a mounted Kubernetes secret, say)
// and reads it again when Webex rejects it.
type FileToken struct {
	path    string
	timeout time.Duration
	mu      sync.Mutex
	tok     string
}

// NewFileToken reads the token file once, so that a missing, empty or
// unusable file is reported before any request is sent.
func NewFileToken(ctx context.Context, path string) (*FileToken, error) {
	t := &FileToken{path: path, timeout: TokenReadTimeout}
	tok, err := t.read(ctx)
	if err != nil {
		return nil, err
	}
	t.tok = tok
	return t, nil
}

// read reads the file, at most MaxTokenFileBytes and for at most the
// timeout. A read that does not end in time is left behind in its
// goroutine (it holds a few bytes); the caller reports the error and goes on
// or exits.
func (t *FileToken) read(ctx context.Context) (string, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.Open(t.path)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, MaxTokenFileBytes+1))
		done <- result{b, err}
	}()
	timer := time.NewTimer(t.timeout)
	defer timer.Stop()
	var r result
	select {
	case r = <-done:
	case <-timer.C:
		return "", fmt.Errorf("token file %s: nothing read within %s (a FIFO with no writer, or a hung mount?)", t.path, t.timeout)
	case <-ctx.Done():
		return "", fmt.Errorf("token file %s: %w", t.path, context.Cause(ctx))
	}
	if r.err != nil {
		// The path is not secret; the content is never echoed.
		return "", fmt.Errorf("read token file: %w", r.err)
	}
	if len(r.b) > MaxTokenFileBytes {
		return "", fmt.Errorf("token file %s is larger than %d KiB; it must hold the token alone", t.path, MaxTokenFileBytes>>10)
	}
	tok := strings.TrimSpace(string(r.b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", t.path)
	}
	if err := CheckToken(tok); err != nil {
		return "", fmt.Errorf("token file %s: %w", t.path, err)
	}
	return tok, nil
}

func (t *FileToken) Token() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tok, nil
}

// Refresh re-reads the file unless another caller already replaced the
// rejected token.
func (t *FileToken) Refresh(rejected string) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != rejected {
		return true, nil
	}
	tok, err := t.read(context.Background())
	if err != nil {
		return false, err
	}
	if tok == t.tok {
		return false, nil
	}
	t.tok = tok
	return true, nil
}
