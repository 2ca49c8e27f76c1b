package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// Date is a calendar day. It is stored as YYYY-MM-DD on both databases and read back from whatever
// the driver returns for a DATE column.
type Date string

// ParseDate validates a YYYY-MM-DD string.
func ParseDate(s string) (Date, error) {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", err
	}
	return Date(s), nil
}

// Value stores the day as text, which both databases compare correctly.
func (d Date) Value() (driver.Value, error) { return string(d), nil }

// Scan reads a DATE column.
func (d *Date) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*d = Date(v.Format(time.DateOnly))
	case string:
		*d = Date(v)
	case []byte:
		*d = Date(v)
	default:
		return fmt.Errorf("store: cannot read %T as a date", src)
	}
	return nil
}

// JSONObject is a free-form JSON object kept in a text column.
type JSONObject map[string]any

// Value stores the object as JSON text ({} when empty).
func (j JSONObject) Value() (driver.Value, error) {
	if j == nil {
		return "{}", nil
	}
	b, err := json.Marshal(map[string]any(j))
	return string(b), err
}

// Scan reads JSON text.
func (j *JSONObject) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("store: cannot read %T as JSON", src)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*j = m
	return nil
}
