package rmm

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads the vendors' time formats: RFC 3339 with or without an offset (zone-less values
// are taken as UTC), with or without fractions, and epoch seconds or milliseconds as numbers or
// numeric strings (values above 1e11 are milliseconds). Empty, null, zero and unreadable values give
// nil.
func ParseTime(v any) *time.Time {
	var t time.Time
	switch x := v.(type) {
	case nil:
		return nil
	case json.Number:
		return ParseTime(string(x))
	case float64:
		t = epoch(x)
	case int64:
		t = epoch(float64(x))
	case int:
		t = epoch(float64(x))
	case string:
		s := strings.TrimSpace(x)
		if s == "" || s == "null" {
			return nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			t = epoch(f)
			break
		}
		var ok bool
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
			"2006-01-02 15:04:05.999999999", "2006-01-02"} {
			if p, err := time.Parse(layout, s); err == nil {
				t, ok = p, true
				break
			}
		}
		if !ok {
			return nil
		}
	default:
		return nil
	}
	if t.IsZero() || t.Year() < 1980 || t.Year() > 3000 {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	return &t
}

func epoch(f float64) time.Time {
	if f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}
	}
	// Rounded to the microsecond: a float's binary fraction of 1.5e9+0.123 is a hair below .123.
	if f > 1e11 { // milliseconds
		return time.UnixMicro(int64(math.Round(f * 1e3)))
	}
	return time.UnixMicro(int64(math.Round(f * 1e6)))
}
