package fetch

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// TokenSource supplies the bearer token. Refresh is called after a 401 with
// the token that was rejected; it reports whether a different token is now
// available, so that a rotated secret does not fail the run.
type TokenSource interface {
	Token() (string, error)
	Refresh(rejected string) (bool, error)
}

// StaticToken is a token that never changes (from WEBEX_TOKEN).
type StaticToken string

func (t StaticToken) Token() (string, error) {
	if t == "" {
		return "", errors.New("the Webex token is empty")
	}
	return string(t), nil
}

func (t StaticToken) Refresh(string) (bool, error) { return false, nil }

// FileToken reads the token from a file (a mounted Kubernetes secret, say)
// and reads it again when Webex rejects it.
type FileToken struct {
	path string
	mu   sync.Mutex
	tok  string
}

// NewFileToken reads the token file once, so that a missing or empty file is
// reported before any request is sent.
func NewFileToken(path string) (*FileToken, error) {
	t := &FileToken{path: path}
	tok, err := t.read()
	if err != nil {
		return nil, err
	}
	t.tok = tok
	return t, nil
}

func (t *FileToken) read() (string, error) {
	b, err := os.ReadFile(t.path)
	if err != nil {
		// The path is not secret; the content is never echoed.
		return "", fmt.Errorf("read token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", t.path)
	}
	if strings.ContainsAny(tok, "\r\n\t ") {
		return "", fmt.Errorf("token file %s holds more than one line or word; it must hold the token alone", t.path)
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
	tok, err := t.read()
	if err != nil {
		return false, err
	}
	if tok == t.tok {
		return false, nil
	}
	t.tok = tok
	return true, nil
}
