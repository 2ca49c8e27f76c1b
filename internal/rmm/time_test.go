package rmm

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 1, 9, 23, 15, 23, 0, time.UTC)
	cases := map[string]struct {
		in   any
		want time.Time
	}{
		"Automate, zone-less":  {"2026-01-09T23:15:23", want},
		"RFC 3339 Z":           {"2026-01-09T23:15:23Z", want},
		"Syncro offset":        {"2026-01-10T09:15:23.000+10:00", want},
		"Datto epoch ms":       {float64(want.UnixMilli()), want},
		"Datto epoch ms json":  {json.Number(strconv.FormatInt(want.UnixMilli(), 10)), want},
		"NinjaOne float secs":  {float64(want.Unix()) + 0.456, want.Add(456 * time.Millisecond)},
		"epoch seconds string": {strconv.FormatInt(want.Unix(), 10), want},
		"space separated":      {"2026-01-09 23:15:23", want},
	}
	// Millisecond times in float seconds, which binary fractions land a hair below, come out exact.
	for ms := range 1000 {
		cases["NinjaOne ms "+strconv.Itoa(ms)] = struct {
			in   any
			want time.Time
		}{float64(want.Unix()) + float64(ms)/1000, want.Add(time.Duration(ms) * time.Millisecond)}
	}
	for name, c := range cases {
		got := ParseTime(c.in)
		if got == nil || !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
	for _, bad := range []any{nil, "", "null", "yesterday", 0.0, -5.0, "0001-01-01T00:00:00Z", true} {
		if got := ParseTime(bad); got != nil {
			t.Errorf("%v gave %v", bad, got)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-01-09T23:15:23", "1767999323000", "1767999323.456", "", "2026-01-10T09:15:23.000+10:00", "9e99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := ParseTime(s); got != nil && (got.Location() != time.UTC || got.Year() < 1980 || got.Year() > 3000) {
			t.Fatalf("%q gave %v", s, got)
		}
	})
}
