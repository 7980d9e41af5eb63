package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// findDevice resolves what a person holds (an ID in any spelling, the
// UUID, a MAC, the short ID a table prints) to the one device it names.
// Nothing matched is exit 1, saying what was tried; several matched is
// exit 2, naming each, since the person must say which.
func findDevice(ctx context.Context, st *store.Store, what, arg string) (store.DeviceMatch, error) {
	l, err := device.ParseLookup(arg)
	if err != nil {
		return store.DeviceMatch{}, usageErr("%s %s: not a device identifier: %v", what, shorten(arg), err)
	}
	matches, more, err := st.FindDevices(ctx, l)
	if err != nil {
		return store.DeviceMatch{}, err
	}
	switch {
	case len(matches) == 1:
		return matches[0], nil
	case len(matches) == 0:
		msg := fmt.Sprintf("%s %s: no device matches it; tried %s", what, shorten(arg), strings.Join(l.Forms(), "; "))
		if deviceid.ReasonOf(l.IDErr) == deviceid.ReasonWrongType {
			msg += fmt.Sprintf(" (it is not a device ID: %v)", l.IDErr)
		}
		return store.DeviceMatch{}, fmt.Errorf("%s", msg)
	}
	var b strings.Builder
	n := fmt.Sprint(len(matches))
	if more {
		n = "more than " + fmt.Sprint(store.MaxPrefixMatches)
	}
	fmt.Fprintf(&b, "%s %s: %s devices match it; give one by its whole ID:", what, shorten(arg), n)
	for _, m := range matches {
		fmt.Fprintf(&b, "\n  %s", describeMatch(m))
	}
	if more {
		fmt.Fprintf(&b, "\n  … (the first %d only)", store.MaxPrefixMatches)
	}
	return store.DeviceMatch{}, &exitcode.Error{Code: exitcode.Usage, Err: fmt.Errorf("%s", b.String())}
}

// describeMatch is a device as a person would recognise it, and how the
// identifier matched it.
func describeMatch(m store.DeviceMatch) string {
	var about []string
	for _, v := range []*string{m.SyncStatus, m.DisplayName, m.Model} {
		if v != nil && *v != "" {
			about = append(about, *v)
		}
	}
	if m.MAC != nil {
		about = append(about, "MAC "+m.MAC.String())
	}
	if m.ListedMAC != nil && m.ListedMAC.String() != m.MAC.String() {
		about = append(about, "listed MAC "+m.ListedMAC.String())
	}
	if !m.Tracked {
		about = append(about, "no longer tracked")
	}
	about = append(about, "matched by "+strings.Join(m.MatchedBy, ", "))
	return m.DeviceID + " (" + strings.Join(about, "; ") + ")"
}

// noteMatch tells the person which device an identifier was taken as,
// when it was not the ID as stored.
func noteMatch(m store.DeviceMatch, arg string) string {
	if m.DeviceID == strings.TrimSpace(arg) {
		return ""
	}
	return fmt.Sprintf("%s is %s\n", strings.TrimSpace(arg), describeMatch(m))
}
