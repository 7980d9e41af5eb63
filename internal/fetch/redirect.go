package fetch

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects bounds the same-origin redirects one request follows.
const maxRedirects = 5

// origin is a URL's scheme, host and port: where a request, and with it the
// token, goes.
type origin struct{ scheme, host, port string }

func originOf(u *url.URL) origin {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return origin{scheme: scheme, host: strings.ToLower(u.Hostname()), port: port}
}

func (o origin) String() string {
	return o.scheme + "://" + joinHostPort(o.host, o.port)
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + port
}

// redirectPolicy is the http.Client CheckRedirect of a client whose API is
// at api: a redirect within the API's origin (same scheme, host and port) is
// followed, up to maxRedirects; any other is not, and its 3xx answer comes
// back to once, which reports it. The request to another origin is never
// sent, so the token never goes there. (net/http alone would send the
// Authorization header to another port of the same host, and from https to
// plain http.)
func redirectPolicy(api origin) func(req *http.Request, via []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if originOf(req.URL) != api || len(via) > maxRedirects {
			return http.ErrUseLastResponse
		}
		return nil
	}
}

// redirectError describes a 3xx answer that was not followed.
func redirectError(api origin, resp *http.Response) string {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "redirect without a Location; not followed"
	}
	target, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return fmt.Sprintf("redirect to %q, which is not a URL; not followed", truncate(loc, 200))
	}
	shown := truncate(target.Redacted(), 200)
	if originOf(target) == api {
		return fmt.Sprintf("redirected more than %d times (last to %s); not followed", maxRedirects, shown)
	}
	return fmt.Sprintf("redirect to %s not followed: the token is only sent to the API at %s", shown, api)
}
