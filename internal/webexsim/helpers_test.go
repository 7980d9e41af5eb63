package webexsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testClient = &http.Client{Timeout: 10 * time.Second}

// newServer serves a fresh simulator through httptest and returns its base URL.
func newServer(t testing.TB, cfg Config) (*Sim, string) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close() // first, so stalled handlers let httptest's Close finish
		ts.Close()
	})
	return s, ts.URL + "/v1"
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func get(t testing.TB, rawURL, token string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatalf("new request %s: %v", rawURL, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body of %s: %v", rawURL, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func post(t testing.TB, rawURL string, body any) response {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := testClient.Post(rawURL, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", rawURL, err)
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: rb}
}

func detailsURL(base, id string) string {
	return base + "/telephony/config/devices/" + url.PathEscape(id) + "?orgId=org1"
}

// simURL turns a base URL ending in /v1 into the URL of a /_sim endpoint.
func simURL(base, path string) string { return base[:len(base)-len("/v1")] + "/_sim/" + path }

type webexError struct {
	Message string `json:"message"`
	Errors  []struct {
		Description string `json:"description"`
	} `json:"errors"`
	TrackingID string `json:"trackingId"`
}

// wantDetails is the body a device should produce, written independently of
// appendDetails so that the two can disagree.
func wantDetails(d Device) map[string]any {
	tags := make([]any, len(d.Tags))
	for i, t := range d.Tags {
		tags[i] = t
	}
	m := map[string]any{
		"managedBy":    d.ManagedBy,
		"owner":        map[string]any{"sipUserName": d.OwnerSIPUserName, "linePort": d.OwnerLinePort},
		"manufacturer": d.Manufacturer,
		"id":           wantAnswerID(d),
		"mac":          d.MAC,
		"model":        d.Model,
		"description":  tags,
	}
	if d.OutboundProxy != "" {
		m["proxy"] = map[string]any{"outboundProxy": d.OutboundProxy}
	}
	if !d.IPOmitted {
		m["ip"] = d.IP
	}
	if d.ActivationState != "" {
		m["activationState"] = d.ActivationState
	}
	if d.UpgradeAsString {
		m["upgradeChannelEnabled"] = strconv.FormatBool(d.UpgradeChannelEnabled)
	} else {
		m["upgradeChannelEnabled"] = d.UpgradeChannelEnabled
	}
	return m
}

// wantAnswerID is the id a details answer names the device by: the unpadded
// DEVICE-type ID of the same UUID for the devices that answer so.
func wantAnswerID(d Device) string {
	if !d.AnswersAsDevice {
		return d.ID
	}
	raw, err := base64.StdEncoding.DecodeString(d.ID)
	if err != nil {
		panic(err)
	}
	return base64.RawStdEncoding.EncodeToString([]byte(strings.Replace(string(raw), "/CALLING_DEVICE/", "/DEVICE/", 1)))
}

func decodeMap(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %q: %v", truncate(b), err)
	}
	return m
}

// topLevelKeys returns the object's keys in wire order.
func topLevelKeys(t testing.TB, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
