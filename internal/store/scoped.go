package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
)

// Scoped holds what every organization-scoped record has.
type Scoped struct {
	ID        int64
	OrgID     int64
	OrgName   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (s *Scoped) scoped() *Scoped { return s }

// record is a pointer to a struct embedding Scoped.
type record[T any] interface {
	*T
	scoped() *Scoped
}

// kind declares an organization-scoped table once, so listing, reading, creating, updating and
// deleting — with the tenancy and permission checks, audit rows and hooks — are written once for
// every resource.
type kind[T any, P record[T]] struct {
	table  string // also the FTS table's prefix on SQLite
	alias  string
	object string // audit object_type
	spec   *list.Spec

	// cols are the writable columns, in the order values returns them.
	cols   []string
	values func(*T) []any
	// selectCols are read after the Scoped columns, into the pointers dest returns.
	selectCols string
	dest       func(*T) []any

	view, create, edit, remove auth.Perm

	// prepare fills defaults and derived fields and validates; q reads in the write transaction.
	prepare func(ctx context.Context, q queryer, c *auth.Caller, v *T) error
	// fields are what the audit log compares; secrets map to a placeholder, never a value.
	fields func(*T) map[string]any
	repr   func(*T) string
	// loadMany attaches related rows (tags, …) to a page of records with one query.
	loadMany func(ctx context.Context, q queryer, s *Store, items []*T) error
	// written runs in the write transaction after an insert, update or delete (after == nil).
	written func(ctx context.Context, tx *sql.Tx, s *Store, before, after *T) error
	// search searches another table's index instead of the kind's own.
	search *searchVia
}

func (k *kind[T, P]) columns() string {
	return k.alias + ".id, " + k.alias + ".organization_id, o.name, " + k.alias + ".created_at, " + k.alias + ".updated_at, " + k.selectCols
}

func (k *kind[T, P]) from() string {
	return k.table + " " + k.alias + " JOIN organizations o ON o.id = " + k.alias + ".organization_id"
}

func (k *kind[T, P]) scanRow(r rowScanner) (*T, error) {
	v := new(T)
	b := P(v).scoped()
	if err := r.Scan(append([]any{&b.ID, &b.OrgID, &b.OrgName, &b.CreatedAt, &b.UpdatedAt}, k.dest(v)...)...); err != nil {
		return nil, err
	}
	b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
	return v, nil
}

// listScoped pages the records of the organizations where the caller may view them.
func listScoped[T any, P record[T]](ctx context.Context, s *Store, k *kind[T, P], q list.Query) ([]T, int, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, 0, err
	}
	l := listing{table: k.table, alias: k.alias, from: k.from(), columns: k.columns(), countFrom: k.table + " " + k.alias, cacheCount: true,
		search: k.search}
	if err := s.orgScope(ctx, c, k.view, k.alias+".organization_id", q.Org, &l.where); err != nil {
		return nil, 0, err
	}
	var ptrs []*T
	n, err := s.runList(ctx, k.spec, q, &l, func(r *sql.Rows) error {
		v, err := k.scanRow(r)
		ptrs = append(ptrs, v)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if k.loadMany != nil && len(ptrs) > 0 {
		if err := k.loadMany(ctx, s.r, s, ptrs); err != nil {
			return nil, 0, wrap(err, "load "+k.table)
		}
	}
	out := make([]T, len(ptrs))
	for i, p := range ptrs {
		out[i] = *p
	}
	return out, n, nil
}

// getScoped reads one record; a record the caller may not view is "not found", like a missing one.
func getScoped[T any, P record[T]](ctx context.Context, s *Store, k *kind[T, P], q queryer, c *auth.Caller, id int64, lock bool) (*T, error) {
	sqlText := `SELECT ` + k.columns() + ` FROM ` + k.from() + ` WHERE ` + k.alias + `.id = $1`
	if lock {
		sqlText += s.forUpdateOf(k.alias)
	}
	v, err := k.scanRow(q.QueryRowContext(ctx, sqlText, id))
	if err != nil {
		return nil, notFound(err, "get "+k.object)
	}
	if org := P(v).scoped().OrgID; !c.Reaches(org) || !c.Can(org, k.view) {
		return nil, apperr.ErrNotFound
	}
	if k.loadMany != nil {
		if err := k.loadMany(ctx, q, s, []*T{v}); err != nil {
			return nil, wrap(err, "load "+k.object)
		}
	}
	return v, nil
}

// Get reads one record for the caller.
func (k *kind[T, P]) get(ctx context.Context, s *Store, id int64) (T, error) {
	var zero T
	c, err := caller(ctx)
	if err != nil {
		return zero, err
	}
	v, err := getScoped(ctx, s, k, s.r, c, id, false)
	if err != nil {
		return zero, err
	}
	return *v, nil
}

// resolveOrgForCreate picks the organization of a new record: the one given, or the caller's only
// one. An organization the caller cannot see is reported like a missing one.
func resolveOrgForCreate(c *auth.Caller, org int64, perm auth.Perm) (int64, error) {
	if org == 0 {
		reach := c.Reachable()
		if c.AllOrgs() || len(reach) != 1 {
			return 0, apperr.Field("organization", "This field is required.")
		}
		org = reach[0]
	}
	if !c.Reaches(org) {
		return 0, apperr.Field("organization", fmt.Sprintf("Invalid pk \"%d\" - object does not exist.", org))
	}
	if !c.Can(org, perm) {
		return 0, apperr.ErrForbidden
	}
	return org, nil
}

// createScoped inserts a record in the organization given (or the caller's only one).
func createScoped[T any, P record[T]](ctx context.Context, s *Store, k *kind[T, P], v T) (T, error) {
	c, err := caller(ctx)
	if err != nil {
		return v, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error { return insertIn(ctx, tx, s, k, c, &v) })
	s.changed(k.table)
	return v, wrap(err, "create "+k.object)
}

// insertIn creates a record inside tx, with every check, hook and audit row of createScoped;
// batch writers (the RMM sync) call it directly to put many records in one transaction.
func insertIn[T any, P record[T]](ctx context.Context, tx *sql.Tx, s *Store, k *kind[T, P], c *auth.Caller, v *T) error {
	b := P(v).scoped()
	var err error
	if b.OrgID, err = resolveOrgForCreate(c, b.OrgID, k.create); err != nil {
		return err
	}
	now := s.Now()
	b.CreatedAt, b.UpdatedAt = now, now
	if err := k.prepare(ctx, tx, c, v); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, `SELECT name FROM organizations WHERE id = $1`, b.OrgID).Scan(&b.OrgName); err != nil {
		return notFound(err, "organization of new "+k.object)
	}
	cols := append([]string{"organization_id", "created_at", "updated_at"}, k.cols...)
	args := append([]any{b.OrgID, now, now}, k.values(v)...)
	ph := make([]string, len(cols))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO `+k.table+` (`+strings.Join(cols, ", ")+`) VALUES (`+strings.Join(ph, ", ")+`) RETURNING id`,
		args...).Scan(&b.ID)
	if err != nil {
		return err
	}
	if k.written != nil {
		if err := k.written(ctx, tx, s, nil, v); err != nil {
			return err
		}
	}
	return s.audit(ctx, tx, &b.OrgID, "create", k.object, &b.ID, k.repr(v), diff(nil, k.fields(v)))
}

// updateScoped applies change to a record and saves it when something changed. The organization
// never changes.
func updateScoped[T any, P record[T]](ctx context.Context, s *Store, k *kind[T, P], id int64, change func(*T) error) (T, error) {
	var out T
	c, err := caller(ctx)
	if err != nil {
		return out, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		out, _, err = updateIn(ctx, tx, s, k, c, id, change)
		return err
	})
	s.changed(k.table)
	return out, wrap(err, "update "+k.object)
}

// updateIn is updateScoped inside tx; changed reports whether anything was written.
func updateIn[T any, P record[T]](ctx context.Context, tx *sql.Tx, s *Store, k *kind[T, P], c *auth.Caller, id int64,
	change func(*T) error) (out T, changed bool, err error) {
	before, err := getScoped(ctx, s, k, tx, c, id, true)
	if err != nil {
		return out, false, err
	}
	bb := P(before).scoped()
	if !c.Can(bb.OrgID, k.edit) {
		return out, false, apperr.ErrForbidden
	}
	v := *before
	if err := change(&v); err != nil {
		return out, false, err
	}
	b := P(&v).scoped()
	if b.OrgID != bb.OrgID && b.OrgID != 0 {
		return out, false, apperr.Field("organization", "This field cannot be changed.")
	}
	*b = *bb
	if err := k.prepare(ctx, tx, c, &v); err != nil {
		return out, false, err
	}
	ch := diff(k.fields(before), k.fields(&v))
	if len(ch) == 0 {
		return *before, false, nil
	}
	b.UpdatedAt = s.Now()
	set := make([]string, len(k.cols))
	for i, col := range k.cols {
		set[i] = fmt.Sprintf("%s = $%d", col, i+1)
	}
	args := append(k.values(&v), b.UpdatedAt, id)
	if _, err := tx.ExecContext(ctx, `UPDATE `+k.table+` SET `+strings.Join(set, ", ")+fmt.Sprintf(", updated_at = $%d WHERE id = $%d", len(set)+1, len(set)+2),
		args...); err != nil {
		return out, false, err
	}
	if k.written != nil {
		if err := k.written(ctx, tx, s, before, &v); err != nil {
			return out, false, err
		}
	}
	return v, true, s.audit(ctx, tx, &b.OrgID, "update", k.object, &b.ID, k.repr(&v), ch)
}

// deleteScoped deletes a record the caller may delete.
func deleteScoped[T any, P record[T]](ctx context.Context, s *Store, k *kind[T, P], id int64) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		before, err := getScoped(ctx, s, k, tx, c, id, true)
		if err != nil {
			return err
		}
		b := P(before).scoped()
		if !c.Can(b.OrgID, k.remove) {
			return apperr.ErrForbidden
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+k.table+` WHERE id = $1`, id); err != nil {
			return err
		}
		if k.written != nil {
			if err := k.written(ctx, tx, s, before, nil); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, &b.OrgID, "delete", k.object, &b.ID, k.repr(before), nil)
	})
	s.changed(k.table)
	return wrap(err, "delete "+k.object)
}
