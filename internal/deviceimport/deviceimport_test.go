package deviceimport_test

import (
	"context"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wxc-inventory/wxc-sync/internal/deviceimport"
)

func dev(n int) string {
	return base64.StdEncoding.EncodeToString([]byte("ciscospark://us/CALLING_DEVICE/00000000-0000-4000-8000-00000000000" + string(rune('0'+n))))
}

func raw(n int) string {
	return base64.RawStdEncoding.EncodeToString([]byte("ciscospark://us/CALLING_DEVICE/00000000-0000-4000-8000-00000000000" + string(rune('0'+n))))
}

var (
	org    = base64.StdEncoding.EncodeToString([]byte("ciscospark://us/ORGANIZATION/11111111-0000-4000-8000-000000000000"))
	people = base64.StdEncoding.EncodeToString([]byte("ciscospark://us/PEOPLE/11111111-0000-4000-8000-000000000000"))
)

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return hw
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    deviceimport.Result
		wantErr string
	}{
		{
			name: "lines, comments, blanks, CRLF",
			in:   "# exported 2024-05-01\r\n\r\n" + dev(1) + "\r\n  " + dev(2) + "  # lobby\n\n",
			want: deviceimport.Result{Format: "lines", Entries: []deviceimport.Entry{{Line: 3, ID: dev(1)}, {Line: 4, ID: dev(2)}}},
		},
		{
			name: "CSV with a mac column: a line without device_id gives its MAC, in any spelling",
			in: strings.Join([]string{
				"device_id,mac,org_id",
				dev(1) + ",00:11:22:33:44:55,", // 2 the ID wins
				",00-11-22-aa-bb-cc," + org,    // 3 a MAC
				",0011.22AA.BBCC,",             // 4 the same MAC, another spelling
				",00:11:22:33:44,",             // 5 not a MAC
				",,",                           // 6 neither
				",001122ddeeff",                // 7 trailing org_id left off
			}, "\n"),
			want: deviceimport.Result{Format: "csv",
				Entries: []deviceimport.Entry{
					{Line: 2, ID: dev(1)},
					{Line: 3, MAC: mustMAC(t, "00:11:22:aa:bb:cc"), OrgID: org},
					{Line: 7, MAC: mustMAC(t, "00:11:22:dd:ee:ff")},
				},
				Rejected: []deviceimport.Rejection{
					{Line: 4, Reason: "duplicate of line 3"},
					{Line: 5, Reason: `mac "00:11:22:33:44" is not a MAC address (12 hex digits, with or without ':', '-' or '.')`},
					{Line: 6, Reason: "neither a device_id nor a mac"},
				}},
		},
		{
			name: "a mac column alone",
			in:   "mac\n001122334455\n",
			want: deviceimport.Result{Format: "csv", Entries: []deviceimport.Entry{{Line: 2, MAC: mustMAC(t, "00:11:22:33:44:55")}}},
		},
		{
			name: "every kind of bad line, each with its number",
			in: strings.Join([]string{
				dev(1),                           // 1 ok
				strings.Repeat("QUFB", 300),      // 2 too long
				dev(2)[:8] + " " + dev(2)[8:],    // 3 space inside
				dev(2)[:8] + "\x07" + dev(2)[8:], // 4 control character
				"11:22:33:44:AA:FF",              // 5 MAC
				"Lobby-Phone",                    // 6 a name
				people,                           // 7 a person's ID
				raw(1),                           // 8 duplicate of 1, other spelling
				dev(3),                           // 9 ok
				dev(3),                           // 10 duplicate of 9
			}, "\n"),
			want: deviceimport.Result{Format: "lines",
				Entries: []deviceimport.Entry{{Line: 1, ID: dev(1)}, {Line: 9, ID: dev(3)}},
				Rejected: []deviceimport.Rejection{
					{Line: 2, Reason: "too long: 1200 bytes, at most 1024"},
					{Line: 3, Reason: "whitespace or control character inside: U+0020"},
					{Line: 4, Reason: "whitespace or control character inside: U+0007"},
					{Line: 5, Reason: "a MAC address, not a device ID: import MACs as CSV with a mac column"},
					{Line: 6, Reason: "not a Webex ID: not base64"},
					{Line: 7, Reason: "wrong kind of Webex ID: it is a PEOPLE ID (ciscospark://us/PEOPLE/11111111-0000-4000-8000-000000000000), want DEVICE or CALLING_DEVICE"},
					{Line: 8, Reason: "duplicate of line 1"},
					{Line: 10, Reason: "duplicate of line 9"},
				}},
		},
		{
			name: "CSV with org_id, columns in any order",
			in:   "# from the portal\nname,org_id,device_id\nlobby #1," + org + "," + dev(1) + "\n\"desk, 2\",," + dev(2) + "\nbad,x,y,z\nbad org,notanorg," + dev(3) + "\n",
			want: deviceimport.Result{Format: "csv",
				Entries:  []deviceimport.Entry{{Line: 3, ID: dev(1), OrgID: org}, {Line: 4, ID: dev(2)}},
				Rejected: []deviceimport.Rejection{{Line: 5, Reason: "4 fields, the header has 3"}, {Line: 6, Reason: "org_id: not a Webex ID: does not decode to text"}}},
		},
		{
			name: "CSV rows may leave off trailing optional columns",
			in:   "device_id,org_id\n" + dev(1) + "\n" + dev(2) + "," + org + "\n# a comment line\n",
			want: deviceimport.Result{Format: "csv", Entries: []deviceimport.Entry{{Line: 2, ID: dev(1)}, {Line: 3, ID: dev(2), OrgID: org}}},
		},
		{
			name: "CSV with device_id alone",
			in:   "Device_ID\n" + dev(1) + "\n",
			want: deviceimport.Result{Format: "csv", Entries: []deviceimport.Entry{{Line: 2, ID: dev(1)}}},
		},
		{name: "CSV without device_id", in: "id,org\n" + dev(1) + ",x\n", wantErr: "line 1: the CSV header has no device_id or mac column"},
		{name: "empty file", in: "", want: deviceimport.Result{Format: "lines"}},
		{name: "a binary file", in: strings.Repeat("x", 70<<10), wantErr: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := deviceimport.Parse(context.Background(), strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Issue 11, item 4: the file is one CSV stream (a quoted field may span
// lines), read in bounded memory: the first rejected lines are kept, the
// rest counted; a quote never closed is refused after a bounded read, not
// after reading the whole file into one field; a cancelled context stops
// the read.
func TestParseStreams(t *testing.T) {
	t.Parallel()
	t.Run("quoted field over several lines", func(t *testing.T) {
		in := "name,device_id,org_id\n\"Lobby\nphone, by the door\"," + dev(1) + ",\nplain," + dev(2) + ",\n"
		got, err := deviceimport.Parse(context.Background(), strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		want := deviceimport.Result{Format: "csv", Entries: []deviceimport.Entry{{Line: 2, ID: dev(1)}, {Line: 4, ID: dev(2)}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("many bad lines: the first kept, the rest counted", func(t *testing.T) {
		const bad = 100_000
		in := strings.Repeat("not-an-id\n", bad) + dev(1) + "\n"
		got, err := deviceimport.Parse(context.Background(), strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Rejected) != deviceimport.MaxReported || got.RejectedCount() != bad ||
			got.Rejected[0].Line != 1 || got.Rejected[deviceimport.MaxReported-1].Line != deviceimport.MaxReported {
			t.Errorf("kept %d rejections (first line %d), counted %d; want the first %d of %d",
				len(got.Rejected), got.Rejected[0].Line, got.RejectedCount(), deviceimport.MaxReported, bad)
		}
		if len(got.Entries) != 1 || got.Entries[0].Line != bad+1 {
			t.Errorf("entries %+v", got.Entries)
		}
	})
	t.Run("a later rejection with a lower line number takes its place", func(t *testing.T) {
		var r deviceimport.Result
		for i := 2; i < 2+deviceimport.MaxReported+5; i++ {
			r.Reject(deviceimport.Rejection{Line: i})
		}
		r.Reject(deviceimport.Rejection{Line: 1})
		if r.Rejected[0].Line != 1 || len(r.Rejected) != deviceimport.MaxReported || r.RejectedCount() != deviceimport.MaxReported+6 {
			t.Errorf("rejected %v, count %d", r.Rejected, r.RejectedCount())
		}
	})
	t.Run("a quote never closed", func(t *testing.T) {
		// 8 MiB of lines inside one open quote: refused after at most
		// about 128 KiB.
		in := &countReader{r: strings.NewReader("device_id\n\"" + strings.Repeat(dev(1)+"\n", 8<<20/len(dev(1)))), limit: 1 << 20}
		_, err := deviceimport.Parse(context.Background(), in)
		if err == nil || !strings.Contains(err.Error(), "a quote never closed") {
			t.Errorf("err = %v, want the record refused as too long", err)
		}
		if in.n >= in.limit {
			t.Errorf("read %d bytes before refusing", in.n)
		}
	})
	t.Run("a cancelled context stops the read", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := deviceimport.Parse(ctx, strings.NewReader(dev(1)+"\n"))
		if err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("err = %v, want the cancellation", err)
		}
	})
}

type countReader struct {
	r        *strings.Reader
	n, limit int
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}
