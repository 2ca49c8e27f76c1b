package db

import (
	"errors"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ViolationKind names the database errors the application reacts to.
type ViolationKind int

const (
	Unique ViolationKind = iota + 1
	ForeignKey
	Busy
)

// Violation describes a constraint violation or lock timeout in dialect-neutral terms.
type Violation struct {
	Kind   ViolationKind
	Table  string
	Column string
}

var (
	sqliteUniqueCols = regexp.MustCompile(`UNIQUE constraint failed: ([a-z_]+)\.([a-z_]+)`)
	sqliteUniqueIdx  = regexp.MustCompile(`UNIQUE constraint failed: index '([a-z_]+)'`)
)

// Classify maps a driver error to a Violation. It is the one place that knows driver error codes.
func Classify(err error) (Violation, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			v := Violation{Kind: Unique}
			if m := sqliteUniqueCols.FindStringSubmatch(se.Error()); m != nil {
				v.Table, v.Column = m[1], m[2]
			} else if m := sqliteUniqueIdx.FindStringSubmatch(se.Error()); m != nil {
				v.Table, v.Column = splitIndexName(m[1])
			}
			return v, true
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return Violation{Kind: ForeignKey}, true
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_BUSY_SNAPSHOT, sqlite3.SQLITE_LOCKED:
			return Violation{Kind: Busy}, true
		}
		return Violation{}, false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			t, c := splitIndexName(pe.ConstraintName)
			return Violation{Kind: Unique, Table: t, Column: c}, true
		case "23503":
			return Violation{Kind: ForeignKey, Table: pe.TableName}, true
		case "40001", "40P01", "55P03":
			return Violation{Kind: Busy}, true
		}
	}
	return Violation{}, false
}

// IsUnique reports whether err is a unique violation, and on which column.
func IsUnique(err error) (column string, ok bool) {
	v, ok := Classify(err)
	if !ok || v.Kind != Unique {
		return "", false
	}
	return v.Column, true
}

// IsForeignKey reports whether err is a foreign-key violation.
func IsForeignKey(err error) bool {
	v, ok := Classify(err)
	return ok && v.Kind == ForeignKey
}

// IsBusy reports whether err is a lock timeout or serialization failure worth retrying.
func IsBusy(err error) bool {
	v, ok := Classify(err)
	return ok && v.Kind == Busy
}

// splitIndexName turns "organizations__slug_key" into ("organizations", "slug"): unique indexes are
// named <table>__<column>_key in both dialects so the column can be recovered from either driver.
func splitIndexName(name string) (table, column string) {
	table, column, ok := strings.Cut(strings.TrimSuffix(name, "_key"), "__")
	if !ok {
		return "", name
	}
	return table, column
}
