package rmm

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// LooseString decodes a JSON string or number as trimmed text, and null, booleans, objects and
// arrays as "". Vendors disagree with their own specs on such fields (Automate declares Id a
// string and sends a number; Syncro agents report builds and serials either way), and one odd
// field should not drop a device. Integral numbers print without a fraction (1187.0 is "1187").
type LooseString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *LooseString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*s = ""
	switch {
	case len(b) == 0:
	case b[0] == '"' && len(b) >= 2 && bytes.IndexByte(b, '\\') < 0:
		*s = LooseString(strings.TrimSpace(string(b[1 : len(b)-1]))) // no escapes: the text as is
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = LooseString(strings.TrimSpace(v))
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*s = LooseString(n.String())
		if f, err := n.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) < 1e15 {
			*s = LooseString(strconv.FormatInt(int64(f), 10))
		}
	}
	return nil
}

// DecodeLoose unmarshals JSON, skipping fields whose JSON type does not fit (encoding/json then
// leaves them zero and carries on) instead of failing: one odd field in a vendor record should
// not drop the record or stop a sync. Malformed JSON is still an error.
func DecodeLoose(b []byte, v any) error {
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(b, v); err != nil && !errors.As(err, &te) {
		return err
	}
	return nil
}

// First is the first of vals that is not blank, trimmed.
func First(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
