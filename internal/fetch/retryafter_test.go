package fetch

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"integer seconds", "30", 30 * time.Second, true},
		{"zero", "0", 0, true},
		{"fractional", "1.5", 1500 * time.Millisecond, true},
		{"surrounding spaces", "  7 ", 7 * time.Second, true},
		{"http date in the future", "Fri, 27 Nov 2026 12:00:45 GMT", 45 * time.Second, true},
		{"http date in the past", "Fri, 27 Nov 2026 11:59:00 GMT", 0, true},
		{"rfc850 date", "Friday, 27-Nov-26 12:01:00 GMT", time.Minute, true},
		{"webex rand expression", "rand(30),add(30)", 0, false},
		{"spaces inside", "3 0", 0, false},
		{"unit suffix", "30 seconds", 0, false},
		{"negative", "-5", 0, false},
		{"NaN", "NaN", 0, false},
		{"infinity", "Inf", 0, false},
		{"hex float", "0x1p4", 0, false},
		{"exponent", "1e3", 0, false},
		{"empty", "", 0, false},
		{"only spaces", "   ", 0, false},
		{"huge", "99999999999999999999", time.Duration(1<<63 - 1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseRetryAfter(tt.value, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"30", " 7 ", "rand(30),add(30)", "Fri, 27 Nov 2026 12:00:45 GMT", "-1", "1.5", "NaN", "1e309"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v: negative wait", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v with ok=false", s, d)
		}
	})
}
