package fetch

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const identityUUID = "51a2a29b-6b4e-4c8e-9f52-7c0d5e3b1a44"

// spellings of one device's ID: both TYPEs, padded or not, standard or URL
// alphabet, the UUID in either case.
func idSpellings(uuid string) map[string]string {
	out := map[string]string{}
	for _, typ := range []string{"DEVICE", "CALLING_DEVICE"} {
		for _, u := range []string{uuid, strings.ToUpper(uuid)} {
			text := []byte("ciscospark://us/" + typ + "/" + u)
			upper := ""
			if u != uuid {
				upper = ", upper-case UUID"
			}
			out[typ+" padded"+upper] = base64.StdEncoding.EncodeToString(text)
			out[typ+" unpadded"+upper] = base64.RawStdEncoding.EncodeToString(text)
			out[typ+" URL alphabet unpadded"+upper] = base64.RawURLEncoding.EncodeToString(text)
		}
	}
	return out
}

// A details answer names the device in whatever spelling Webex likes: it is
// the same device when the UUID is, and the device keeps the ID it was
// requested by. Another UUID is still another device.
func TestDeviceAnswerInAnotherSpelling(t *testing.T) {
	t.Parallel()
	spellings := idSpellings(identityUUID)
	other := base64.StdEncoding.EncodeToString([]byte("ciscospark://us/CALLING_DEVICE/51a2a29b-6b4e-4c8e-9f52-7c0d5e3b1a45"))
	for reqName, reqID := range spellings {
		for ansName, ansID := range spellings {
			answer := ansID
			t.Run(reqName+" answered as "+ansName, func(t *testing.T) {
				t.Parallel()
				f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, _ int) {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprint(w, deviceJSON(answer))
				})
				c := newTestClient(t, f.URL, nil)
				d, err := c.Device(context.Background(), reqID, "")
				if err != nil {
					t.Fatalf("Device(%s) answered as %s: %v", reqID, answer, err)
				}
				if d.ID != reqID {
					t.Errorf("device ID = %q, want the requested %q", d.ID, reqID)
				}
			})
		}
		t.Run(reqName+" answered as another device", func(t *testing.T) {
			t.Parallel()
			f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, deviceJSON(other))
			})
			c := newTestClient(t, f.URL, nil)
			_, err := c.Device(context.Background(), reqID, "")
			if KindOf(err) != KindBadPayload || !strings.Contains(err.Error(), "not the requested one") {
				t.Errorf("err = %v, want a bad payload naming the other device", err)
			}
		})
	}
}
