package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wxc-inventory/wxc-sync/internal/device"
)

// The device listing (GET /v1/devices, scope spark-admin:devices_read),
// which discovery pages through to find the calling devices of an org. It
// shares the Client's token, rate limiter, 429 pause and back-off with the
// details requests, so a discovery and a run in one process pace together.

// MaxPageBytes bounds one listing page: up to 1000 items of a few KiB.
const MaxPageBytes = 32 << 20

// maxPages stops a listing whose next links never end.
const maxPages = 100_000

// DefaultPageSize is the listing page size (max) when none is given.
const DefaultPageSize = 100

// ListOptions select what the listing lists.
type ListOptions struct {
	OrgID    string // orgId, for partner admins; empty: the token's org
	Type     string // type filter (phone, ...); empty: every type
	MAC      string // mac filter; empty: every device
	PageSize int    // max; 0: DefaultPageSize. The endpoint silently caps it (the cap is not documented).
}

// ListPage is one page of the listing, decoded.
type ListPage struct {
	Number int // 1-based
	Items  []device.Listed
}

// ListStats say what a listing took.
type ListStats struct {
	Pages    int // pages received
	Items    int // items received
	PageSize int // the max in force at the end: lower than asked after a 504
}

// Listing is a complete listing, held in memory.
type Listing struct {
	Devices []device.Listed
	ListStats
}

// ErrListForbidden matches (errors.Is) a listing that Webex refused with
// 403: the token lacks spark-admin:devices_read, or may not list this org.
// A caller that can do without the listing falls back on it.
var ErrListForbidden = errors.New("the token may not list devices (HTTP 403: it needs spark-admin:devices_read)")

// ListError is a listing that could not be read whole. Page is the page
// that failed (1-based); the pages before it were delivered.
type ListError struct {
	Page int
	Err  error // an *Error, or the context's error
}

func (e *ListError) Error() string { return fmt.Sprintf("list devices: page %d: %v", e.Page, e.Err) }
func (e *ListError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrListForbidden) true for a 403.
func (e *ListError) Is(target error) bool {
	return target == ErrListForbidden && KindOf(e.Err) == KindForbidden
}

// ListDevices lists every device into memory. See EachListPage.
func (c *Client) ListDevices(ctx context.Context, opts ListOptions) (Listing, error) {
	var out Listing
	st, err := c.EachListPage(ctx, opts, func(p ListPage) error {
		out.Devices = append(out.Devices, p.Items...)
		return nil
	})
	if err != nil {
		return Listing{}, err
	}
	out.ListStats = st
	return out, nil
}

// EachListPage pages through GET /v1/devices, following the Link
// rel="next" headers to the end, and hands each page to fn in order, so
// that a listing of 100,000 devices never sits in memory as JSON. Filters
// a next link drops (some deployments keep only max and start) are put
// back. A next link to another scheme, host or port than the base URL is
// an error: the token must not go there. A 504 is retried with a smaller
// max, as the API advises, and that max holds for the later pages.
//
// The listing is all or nothing: a page that still fails after the
// retries ends it with a *ListError (errors.Is(err, ErrListForbidden) for
// a 403), and the pages fn already received must not be taken for the
// whole listing. An error from fn ends the listing and is returned as is.
func (c *Client) EachListPage(ctx context.Context, opts ListOptions, fn func(ListPage) error) (ListStats, error) {
	if opts.PageSize == 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.PageSize < 1 || opts.PageSize > 1000 {
		return ListStats{}, fmt.Errorf("list devices: page size %d: want 1 to 1000", opts.PageSize)
	}
	base, err := url.Parse(c.base)
	if err != nil {
		return ListStats{}, fmt.Errorf("list devices: %w", err)
	}
	filters := url.Values{}
	filters.Set("max", strconv.Itoa(opts.PageSize))
	if opts.OrgID != "" {
		filters.Set("orgId", opts.OrgID)
	}
	if opts.Type != "" {
		filters.Set("type", opts.Type)
	}
	if opts.MAC != "" {
		filters.Set("mac", opts.MAC)
	}
	next := c.base + "/devices?" + filters.Encode()
	seen := map[string]bool{}
	st := ListStats{PageSize: opts.PageSize}
	for next != "" {
		if st.Pages >= maxPages {
			return st, &ListError{Page: st.Pages + 1, Err: &Error{Kind: KindBadPayload, Message: fmt.Sprintf("more than %d pages; the next links do not end", maxPages)}}
		}
		if seen[next] {
			return st, &ListError{Page: st.Pages + 1, Err: &Error{Kind: KindBadPayload, Message: "the next link repeats an earlier page"}}
		}
		seen[next] = true
		page, err := c.listPage(ctx, next, &st.PageSize)
		if err != nil {
			return st, &ListError{Page: st.Pages + 1, Err: err}
		}
		st.Pages++
		st.Items += len(page.items)
		// A smaller max after a 504 holds for the rest of the listing,
		// even where a next link leaves max out.
		filters.Set("max", strconv.Itoa(st.PageSize))
		if err := fn(ListPage{Number: st.Pages, Items: page.items}); err != nil {
			return st, err
		}
		next, err = nextPage(base, page.url, page.link, filters)
		if err != nil {
			return st, &ListError{Page: st.Pages + 1, Err: &Error{Kind: KindBadPayload, Message: "after page " + strconv.Itoa(st.Pages) + ": " + err.Error()}}
		}
	}
	return st, nil
}

// nextPage resolves the rel="next" link of header against the page it came
// with, refuses one that leaves the API's scheme and host, and puts back any
// filter the link dropped. It returns "" on the last page.
func nextPage(base *url.URL, current, header string, filters url.Values) (string, error) {
	raw, ok := relNext(header)
	if !ok {
		return "", nil
	}
	cur, err := url.Parse(current)
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("next link is not a URL: %w", err)
	}
	u := cur.ResolveReference(ref)
	if !strings.EqualFold(u.Scheme, base.Scheme) || !sameHostPort(u, base) || u.User != nil {
		return "", fmt.Errorf("next link points to %s://%s, not the API at %s://%s; refusing to send the token there",
			u.Scheme, u.Host, base.Scheme, base.Host)
	}
	q := u.Query()
	for k, v := range filters {
		if k == "max" && q.Get(k) != "" {
			continue // the server's page size wins
		}
		q[k] = v
	}
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String(), nil
}

// sameHostPort compares host and port, the scheme's default port spelt
// out or not ("webexapis.com" is "webexapis.com:443" under https).
func sameHostPort(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		switch strings.ToLower(u.Scheme) {
		case "https":
			return "443"
		case "http":
			return "80"
		}
		return ""
	}
	return strings.EqualFold(strings.TrimSuffix(a.Hostname(), "."), strings.TrimSuffix(b.Hostname(), ".")) && port(a) == port(b)
}

// relNext finds the rel="next" target in an RFC 8288 Link header, which may
// hold several comma-separated links.
func relNext(header string) (string, bool) {
	for header != "" {
		start := strings.IndexByte(header, '<')
		if start < 0 {
			return "", false
		}
		end := strings.IndexByte(header[start:], '>')
		if end < 0 {
			return "", false
		}
		target := header[start+1 : start+end]
		rest := header[start+end+1:]
		params := rest
		if i := strings.IndexByte(rest, '<'); i >= 0 {
			params = rest[:i]
		}
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p), ",")), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
				continue
			}
			for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
				if strings.EqualFold(rel, "next") {
					return target, true
				}
			}
		}
		header = rest
	}
	return "", false
}

// minShrunkPage is the smallest max a 504 shrinks a page to.
const minShrunkPage = 10

type listedPage struct {
	items []device.Listed
	link  string // the Link header
	url   string // the URL that answered (its max may be smaller than asked)
}

// listPage fetches one page and its Link header, with the details
// client's policy (see get); a damaged page is retried too, and a 504 is
// retried with half the max (*pageSize is updated).
func (c *Client) listPage(ctx context.Context, u string, pageSize *int) (listedPage, error) {
	var out listedPage
	err := c.get(ctx, request{
		url:       u,
		attrs:     []slog.Attr{slog.String("request", "device listing")},
		maxBody:   MaxPageBytes,
		retryBad:  true,
		listing:   true,
		forbidden: "the token may lack the scope spark-admin:devices_read",
		shrink: func(cur string) string {
			smaller, n, ok := halveMax(cur)
			if !ok {
				return cur
			}
			*pageSize = n
			c.log.LogAttrs(ctx, slog.LevelInfo, "the listing timed out (504); asking for smaller pages",
				slog.Int("max", n))
			return smaller
		},
		decode: func(resp *http.Response, body []byte) *Error {
			items, err := decodePage(body)
			if err != nil {
				return err
			}
			out = listedPage{items: items, link: strings.Join(resp.Header.Values("Link"), ", "), url: resp.Request.URL.String()}
			return nil
		},
	})
	return out, err
}

// halveMax returns u with its max query parameter halved (not below
// minShrunkPage), and false when there is nothing to halve.
func halveMax(u string) (string, int, bool) {
	pu, err := url.Parse(u)
	if err != nil {
		return u, 0, false
	}
	q := pu.Query()
	n, err := strconv.Atoi(q.Get("max"))
	if err != nil || n <= minShrunkPage {
		return u, 0, false
	}
	n = max(minShrunkPage, n/2)
	q.Set("max", strconv.Itoa(n))
	pu.RawQuery = q.Encode()
	return pu.String(), n, true
}

func decodePage(body []byte) ([]device.Listed, *Error) {
	var page struct {
		Items *[]wireListed `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, &Error{Kind: KindBadPayload, Message: "listing page is not valid JSON: " + err.Error(), Err: err}
	}
	if page.Items == nil {
		return nil, &Error{Kind: KindBadPayload, Message: "listing page has no items array", Err: errors.New("no items")}
	}
	out := make([]device.Listed, len(*page.Items))
	for i, w := range *page.Items {
		out[i] = w.normalise()
	}
	return out, nil
}
