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
)

// The device listing (GET /v1/devices, scope spark-admin:devices_read),
// which discovery pages through to find the calling devices of an org. It
// shares the Client's token, rate limiter, 429 pause and back-off with the
// details requests, so a discovery and a run in one process pace together.

// MaxPageBytes bounds one listing page: up to 1000 items of a few KiB.
const MaxPageBytes = 32 << 20

// maxPages stops a listing whose next links never end.
const maxPages = 100_000

// ListOptions select what ListDevices lists.
type ListOptions struct {
	OrgID    string // orgId, for partner admins; empty: the token's org
	Type     string // type filter (phone, ...); empty: every type
	PageSize int    // max; 0: 100. Webex caps it at 1000.
}

// ListedDevice is one item of the listing. CallingDeviceID is empty for a
// device that is not a Webex Calling device.
type ListedDevice struct {
	ID              string `json:"id"`
	CallingDeviceID string `json:"callingDeviceId"`
	OrgID           string `json:"orgId"`
	DisplayName     string `json:"displayName"`
	Product         string `json:"product"`
	Type            string `json:"type"`
	MAC             string `json:"mac"`
}

// Listing is a complete listing.
type Listing struct {
	Devices []ListedDevice
	Pages   int
}

// ListDevices lists every device, following the Link rel="next" headers to
// the end. Filters a next link drops (some deployments keep only max and
// start) are put back. The listing is all or nothing: a page that still
// fails after the retries fails the whole listing, since a partial one would
// look like devices gone. A next link to another scheme or host than the
// base URL is an error: the token must not go there.
func (c *Client) ListDevices(ctx context.Context, opts ListOptions) (Listing, error) {
	if opts.PageSize == 0 {
		opts.PageSize = 100
	}
	if opts.PageSize < 1 || opts.PageSize > 1000 {
		return Listing{}, fmt.Errorf("list devices: page size %d: want 1 to 1000", opts.PageSize)
	}
	base, err := url.Parse(c.base)
	if err != nil {
		return Listing{}, fmt.Errorf("list devices: %w", err)
	}
	filters := url.Values{}
	filters.Set("max", strconv.Itoa(opts.PageSize))
	if opts.OrgID != "" {
		filters.Set("orgId", opts.OrgID)
	}
	if opts.Type != "" {
		filters.Set("type", opts.Type)
	}
	next := c.base + "/devices?" + filters.Encode()
	seen := map[string]bool{}
	var out Listing
	for next != "" {
		if out.Pages >= maxPages {
			return Listing{}, fmt.Errorf("list devices: more than %d pages; the next links do not end", maxPages)
		}
		if seen[next] {
			return Listing{}, fmt.Errorf("list devices: page %d: the next link repeats an earlier page", out.Pages+1)
		}
		seen[next] = true
		items, link, err := c.listPage(ctx, next)
		if err != nil {
			return Listing{}, fmt.Errorf("list devices: page %d: %w", out.Pages+1, err)
		}
		out.Pages++
		out.Devices = append(out.Devices, items...)
		next, err = nextPage(base, next, link, filters)
		if err != nil {
			return Listing{}, fmt.Errorf("list devices: after page %d: %w", out.Pages, err)
		}
	}
	return out, nil
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
	if !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) || u.User != nil {
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

// listPage fetches one page and its Link header, with the details
// client's policy (see get); a damaged page is retried too.
func (c *Client) listPage(ctx context.Context, u string) ([]ListedDevice, string, error) {
	var (
		items []ListedDevice
		link  string
	)
	err := c.get(ctx, request{
		url:       u,
		attrs:     []slog.Attr{slog.String("request", "device listing")},
		maxBody:   MaxPageBytes,
		retryBad:  true,
		forbidden: "the token may lack the scope spark-admin:devices_read",
		decode: func(resp *http.Response, body []byte) *Error {
			var err *Error
			items, err = decodePage(body)
			link = strings.Join(resp.Header.Values("Link"), ", ")
			return err
		},
	})
	return items, link, err
}

func decodePage(body []byte) ([]ListedDevice, *Error) {
	var page struct {
		Items *[]ListedDevice `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, &Error{Kind: KindBadPayload, Message: "listing page is not valid JSON: " + err.Error(), Err: err}
	}
	if page.Items == nil {
		return nil, &Error{Kind: KindBadPayload, Message: "listing page has no items array", Err: errors.New("no items")}
	}
	return *page.Items, nil
}
