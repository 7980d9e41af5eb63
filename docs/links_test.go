package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

var (
	fence      = regexp.MustCompile("(?ms)^\\s*```.*?^\\s*```[^\\n]*$")
	codeSpan   = regexp.MustCompile("`[^`\\n]*`")
	linkTarget = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading    = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t#]*$`)
)

// prose is a Markdown text without its code: fenced blocks and code spans
// are blanked (lines kept), so that neither their "# TYPE" lines count as
// headings nor their brackets as links.
func prose(md string) string {
	blank := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '\n' {
				return r
			}
			return ' '
		}, s)
	}
	return codeSpan.ReplaceAllStringFunc(fence.ReplaceAllStringFunc(md, blank), blank)
}

// anchor is the fragment GitHub gives a heading: lower case, markup and
// punctuation dropped but for '-' and '_', each space a '-'.
func anchor(text string) string {
	text = strings.NewReplacer("`", "", "*", "").Replace(text)
	text = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(text, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(text)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors lists a Markdown text's heading anchors; a repeated heading gets
// -1, -2, ... as on GitHub.
func anchors(md string) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(prose(md), -1) {
		a := anchor(m[1])
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// brokenLinks returns, for each of the Markdown files, every relative link
// whose file does not exist or whose #anchor is no heading of its page.
func brokenLinks(t *testing.T, files []string) []string {
	t.Helper()
	var broken []string
	pages := map[string]map[string]bool{}
	headings := func(path string) (map[string]bool, error) {
		if a, ok := pages[path]; ok {
			return a, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		pages[path] = anchors(string(b))
		return pages[path], nil
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range linkTarget.FindAllStringSubmatch(prose(string(b)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, frag, _ := strings.Cut(target, "#")
			dest := f
			if path != "" {
				dest = filepath.Join(filepath.Dir(f), filepath.FromSlash(path))
			}
			if _, err := os.Stat(dest); err != nil {
				broken = append(broken, f+": "+target+": no such file")
				continue
			}
			if frag == "" {
				continue
			}
			if !strings.HasSuffix(dest, ".md") {
				broken = append(broken, f+": "+target+": an anchor into a file that is not Markdown")
				continue
			}
			a, err := headings(dest)
			if err != nil {
				t.Fatal(err)
			}
			if !a[frag] {
				broken = append(broken, f+": "+target+": no such heading in "+dest)
			}
		}
	}
	return broken
}

func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	return append([]string{"../README.md"}, files...)
}

// TestLinksResolve: every relative link and #anchor of README.md and
// docs/*.md names a file, and a heading of it, that exist.
func TestLinksResolve(t *testing.T) {
	t.Parallel()
	for _, b := range brokenLinks(t, docFiles(t)) {
		t.Error(b)
	}
}

// TestREADMELinksEveryPage: "where the rest is" leaves no page of docs/
// unlinked.
func TestREADMELinksEveryPage(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var linked []string
	for _, m := range linkTarget.FindAllStringSubmatch(prose(string(b)), -1) {
		path, _, _ := strings.Cut(m[1], "#")
		linked = append(linked, path)
	}
	for _, f := range docFiles(t)[1:] {
		if !slices.Contains(linked, "docs/"+f) {
			t.Errorf("README.md does not link docs/%s", f)
		}
	}
}

// TestCheckerFindsBrokenLinks: the check above can fail. A page with a link
// to a missing file, one to a missing heading, and good ones beside them.
func TestCheckerFindsBrokenLinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("other.md", "# Other\n\n## What the history can tell, and how late\n\n## Connection poolers (PgBouncer)\n\n## Same\n\n## Same\n")
	page := write("page.md", "# Page\n\n"+
		"[ok](other.md#what-the-history-can-tell-and-how-late) [ok](other.md#connection-poolers-pgbouncer)\n"+
		"[ok](other.md#same-1) [ok](#page) [ok](https://example.com/x#y)\n"+
		"[bad file](missing.md) [bad anchor](other.md#not-there) [bad local](#nowhere)\n"+
		"```\n# Fenced\n[fenced](missing-too.md)\n```\n[bad, a fenced heading](#fenced)\n")
	got := brokenLinks(t, []string{page})
	want := []string{
		page + ": missing.md: no such file",
		page + ": other.md#not-there: no such heading in " + filepath.Join(dir, "other.md"),
		page + ": #nowhere: no such heading in " + page,
		page + ": #fenced: no such heading in " + page,
	}
	if !slices.Equal(got, want) {
		t.Errorf("broken links:\n got %q\nwant %q", got, want)
	}
}
