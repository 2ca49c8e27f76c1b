package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/db"
	"clientst0r/internal/list"
)

// Role is a built-in or custom role as stored.
type Role struct {
	auth.Role
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RoleSpec declares the roles list.
var RoleSpec = list.Spec{
	DefaultOrder: "id",
	Fields: []list.Field{
		{Name: "id", Column: "r.id", Kind: list.Int, Order: true},
		{Name: "name", Column: "r.name", Order: true, Filter: true},
		{Name: "builtin", Column: "r.builtin", Kind: list.Bool, Order: true, Filter: true},
		{Name: "created_at", Column: "r.created_at", Kind: list.Time, Order: true},
		{Name: "updated_at", Column: "r.updated_at", Kind: list.Time, Order: true},
	},
}

const roleColumns = `r.id, r.name, r.description, r.permissions, r.builtin, r.created_at, r.updated_at`

// queryer is what *sql.DB and *sql.Tx have in common for reads.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func scanRole(r rowScanner) (Role, error) {
	var ro Role
	var perms string
	if err := r.Scan(&ro.ID, &ro.Name, &ro.Description, &perms, &ro.Builtin, &ro.CreatedAt, &ro.UpdatedAt); err != nil {
		return ro, err
	}
	ro.CreatedAt, ro.UpdatedAt = ro.CreatedAt.UTC(), ro.UpdatedAt.UTC()
	p, err := rolePerms(ro.Name, ro.Builtin, perms)
	ro.Perms = p
	return ro, err
}

// rolePerms returns a role's permissions: the code's for built-in roles (so they follow upgrades),
// the stored list for custom ones.
func rolePerms(name string, builtin bool, stored string) (auth.Perms, error) {
	if builtin {
		r, ok := auth.BuiltinRole(name)
		if !ok {
			return 0, fmt.Errorf("store: unknown built-in role %q", name)
		}
		return r.Perms, nil
	}
	var names []string
	if err := json.Unmarshal([]byte(stored), &names); err != nil {
		return 0, fmt.Errorf("store: permissions of role %q: %w", name, err)
	}
	return auth.ParsePerms(names)
}

func roleByName(ctx context.Context, q queryer, name string) (Role, error) {
	r, err := scanRole(q.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles r WHERE r.name = $1`, name))
	if err != nil {
		return r, notFound(err, "role by name")
	}
	return r, nil
}

// RoleByName finds a role for operator commands.
func (s *Store) RoleByName(ctx context.Context, name string) (Role, error) {
	r, err := roleByName(ctx, s.r, name)
	if apperr.Is(err, apperr.NotFound) {
		return r, apperr.Field("role", fmt.Sprintf("Unknown role %q.", name))
	}
	return r, err
}

// readsRoles: superusers, and whoever manages members somewhere, who must see what a role grants
// before giving it. Only superusers change roles.
func readsRoles(c *auth.Caller) bool {
	return superuser(c) || c.UnionPerms().Has(auth.MembersManage)
}

// changesRoles allows only superusers to change roles.
func changesRoles(ctx context.Context) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if !superuser(c) {
		return apperr.ErrForbidden
	}
	return nil
}

// ListRoles pages all roles.
func (s *Store) ListRoles(ctx context.Context, q list.Query) ([]Role, int, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, 0, err
	}
	if !readsRoles(c) {
		return nil, 0, apperr.ErrForbidden
	}
	var out []Role
	n, err := s.runList(ctx, &RoleSpec, q, &listing{table: "roles", alias: "r", from: "roles r", columns: roleColumns},
		func(r *sql.Rows) error {
			ro, err := scanRole(r)
			out = append(out, ro)
			return err
		})
	return out, n, err
}

// GetRole returns one role.
func (s *Store) GetRole(ctx context.Context, id int64) (Role, error) {
	c, err := caller(ctx)
	if err != nil {
		return Role{}, err
	}
	if !readsRoles(c) {
		return Role{}, apperr.ErrForbidden
	}
	r, err := scanRole(s.r.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles r WHERE r.id = $1`, id))
	if err != nil {
		return r, notFound(err, "get role")
	}
	return r, nil
}

var roleNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,49}$`)

func (r *Role) validate() error {
	errs := apperr.FieldErrors{}
	r.Name = strings.TrimSpace(r.Name)
	switch {
	case !roleNameRE.MatchString(r.Name):
		errs.Add("name", "Use 1 to 50 lowercase letters, digits, '-' or '_', starting with a letter or digit.")
	case slices.Contains(auth.BuiltinRoleNames(), r.Name):
		errs.Add("name", fmt.Sprintf("%q is a built-in role.", r.Name))
	}
	if len(r.Description) > 1000 {
		errs.Add("description", "Ensure this field has no more than 1000 characters.")
	}
	if r.Perms == 0 {
		errs.Add("permissions", "Give the role at least one permission.")
	}
	return errs.Err()
}

func roleUniqueErr(err error) error {
	if _, ok := db.IsUnique(err); ok {
		return apperr.Field("name", "role with this name already exists.")
	}
	return err
}

func (r Role) auditFields() map[string]any {
	return map[string]any{"name": r.Name, "description": r.Description, "permissions": strings.Join(r.Perms.Names(), ",")}
}

// CreateRole creates a custom role (superusers only).
func (s *Store) CreateRole(ctx context.Context, r Role) (Role, error) {
	c, err := caller(ctx)
	if err != nil {
		return r, err
	}
	if !superuser(c) {
		return r, apperr.ErrForbidden
	}
	r.Builtin = false
	if err := r.validate(); err != nil {
		return r, err
	}
	now := s.Now()
	r.CreatedAt, r.UpdatedAt = now, now
	perms, _ := json.Marshal(r.Perms.Names())
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO roles (name, description, permissions, builtin, created_at, updated_at)
			VALUES ($1, $2, $3, FALSE, $4, $4) RETURNING id`, r.Name, r.Description, string(perms), now).Scan(&r.ID)
		if err != nil {
			return roleUniqueErr(err)
		}
		return s.audit(ctx, tx, nil, "create", "role", &r.ID, r.Name, diff(nil, r.auditFields()))
	})
	return r, wrap(err, "create role")
}

// UpdateRole changes a custom role; built-in roles are read-only.
func (s *Store) UpdateRole(ctx context.Context, id int64, change func(*Role) error) (Role, error) {
	if err := changesRoles(ctx); err != nil {
		return Role{}, err
	}
	before, err := s.GetRole(ctx, id)
	if err != nil {
		return before, err
	}
	if before.Builtin {
		return before, apperr.Invalidf("Built-in roles cannot be changed.")
	}
	r := before
	var changed bool
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := change(&r); err != nil {
			return err
		}
		r.ID, r.Builtin, r.CreatedAt = before.ID, false, before.CreatedAt
		if err := r.validate(); err != nil {
			return err
		}
		ch := diff(before.auditFields(), r.auditFields())
		if len(ch) == 0 {
			return nil
		}
		changed = true
		r.UpdatedAt = s.Now()
		perms, _ := json.Marshal(r.Perms.Names())
		res, err := tx.ExecContext(ctx, `UPDATE roles SET name = $1, description = $2, permissions = $3, updated_at = $4
			WHERE id = $5 AND NOT builtin`, r.Name, r.Description, string(perms), r.UpdatedAt, id)
		if err != nil {
			return roleUniqueErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.ErrNotFound
		}
		if err := s.announceAuth(ctx, tx); err != nil {
			return err
		}
		return s.audit(ctx, tx, nil, "update", "role", &r.ID, r.Name, ch)
	})
	if err == nil && changed {
		s.authChanged()
	}
	return r, wrap(err, "update role")
}

// DeleteRole deletes a custom role that nobody holds.
func (s *Store) DeleteRole(ctx context.Context, id int64) error {
	if err := changesRoles(ctx); err != nil {
		return err
	}
	r, err := s.GetRole(ctx, id)
	if err != nil {
		return err
	}
	if r.Builtin {
		return apperr.Invalidf("Built-in roles cannot be deleted.")
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var members, keys int
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM memberships WHERE role_id = $1),
			(SELECT count(*) FROM api_keys WHERE role_id = $1 AND revoked_at IS NULL)`, id).Scan(&members, &keys); err != nil {
			return err
		}
		if members+keys > 0 {
			return apperr.Conflictf("Role %q is assigned to %d memberships and %d API keys; reassign them first.", r.Name, members, keys)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET role_id = NULL WHERE role_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM roles WHERE id = $1 AND NOT builtin`, id); err != nil {
			return err
		}
		if err := s.announceAuth(ctx, tx); err != nil {
			return err
		}
		return s.audit(ctx, tx, nil, "delete", "role", &id, r.Name, nil)
	})
	if err == nil {
		s.authChanged()
	}
	return wrap(err, "delete role")
}

// RoleNames lists every role name, built-in first, for forms.
func (s *Store) RoleNames(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name FROM roles ORDER BY id`)
	if err != nil {
		return nil, wrap(err, "role names")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, wrap(err, "role names")
		}
		out = append(out, n)
	}
	return out, wrap(rows.Err(), "role names")
}
