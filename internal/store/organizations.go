package store

import (
	"context"
	"database/sql"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/db"
	"clientst0r/internal/list"
)

// Organization is a tenant.
type Organization struct {
	ID          int64
	Name        string
	Slug        string
	Description string
	IsActive    bool
	// RequireTwoFactor makes every member use two-factor sign-in in the web UI (API keys are not
	// affected).
	RequireTwoFactor bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// OrganizationSpec declares the organizations list.
var OrganizationSpec = list.Spec{
	DefaultOrder: "name",
	Searchable:   true,
	Fields: []list.Field{
		{Name: "id", Column: "o.id", Kind: list.Int, Order: true},
		{Name: "name", Column: "o.name", Order: true, Search: true},
		{Name: "slug", Column: "o.slug", Order: true, Search: true, Filter: true},
		{Name: "description", Column: "o.description", Order: true},
		{Name: "is_active", Column: "o.is_active", Kind: list.Bool, Order: true, Filter: true},
		{Name: "require_two_factor", Column: "o.require_two_factor", Kind: list.Bool, Order: true, Filter: true},
		{Name: "created_at", Column: "o.created_at", Kind: list.Time, Order: true, Range: true},
		{Name: "updated_at", Column: "o.updated_at", Kind: list.Time, Order: true, Range: true},
	},
}

const orgColumns = `o.id, o.name, o.slug, o.description, o.is_active, o.require_two_factor, o.created_at, o.updated_at`

func scanOrg(r rowScanner) (Organization, error) {
	var o Organization
	err := r.Scan(&o.ID, &o.Name, &o.Slug, &o.Description, &o.IsActive, &o.RequireTwoFactor, &o.CreatedAt, &o.UpdatedAt)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return o, err
}

// superuser reports whether the caller acts with superuser powers: a superuser, not narrowed to
// some organizations and not capped below organization settings by a key.
func superuser(c *auth.Caller) bool { return c.AllOrgs() && c.Can(0, auth.OrgSettings) }

// ListOrganizations pages the organizations the caller can access.
func (s *Store) ListOrganizations(ctx context.Context, q list.Query) ([]Organization, int, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, 0, err
	}
	l := listing{table: "organizations", alias: "o", from: "organizations o", columns: orgColumns}
	if !c.AllOrgs() {
		l.where.inList("o.id", c.Reachable())
	}
	var out []Organization
	n, err := s.runList(ctx, &OrganizationSpec, q, &l, func(r *sql.Rows) error {
		o, err := scanOrg(r)
		out = append(out, o)
		return err
	})
	return out, n, err
}

// GetOrganization returns an organization the caller can access (404 otherwise).
func (s *Store) GetOrganization(ctx context.Context, id int64) (Organization, error) {
	c, err := caller(ctx)
	if err != nil {
		return Organization{}, err
	}
	if !c.Reaches(id) {
		return Organization{}, apperr.ErrNotFound
	}
	o, err := scanOrg(s.r.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations o WHERE o.id = $1`, id))
	if err != nil {
		return Organization{}, notFound(err, "get organization")
	}
	return o, nil
}

// OrganizationByRef finds an organization by id or slug for operator commands (no access check).
func (s *Store) OrganizationByRef(ctx context.Context, ref string) (Organization, error) {
	id, err := s.resolveOrg(ctx, ref)
	if err != nil {
		return Organization{}, err
	}
	o, err := scanOrg(s.r.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations o WHERE o.id = $1`, id))
	if err != nil {
		return Organization{}, notFound(err, "get organization")
	}
	return o, nil
}

var slugRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// Slugify derives a slug from a name: lower case ASCII letters and digits joined by hyphens.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return truncate(b.String(), 100)
}

func (o *Organization) validate() error {
	errs := apperr.FieldErrors{}
	o.Name = strings.TrimSpace(o.Name)
	switch {
	case o.Name == "":
		errs.Add("name", "This field may not be blank.")
	case utf8.RuneCountInString(o.Name) > 200:
		errs.Add("name", "Ensure this field has no more than 200 characters.")
	}
	if o.Slug == "" {
		o.Slug = Slugify(o.Name)
	}
	if (o.Slug != "" || o.Name != "") && (!slugRE.MatchString(o.Slug) || len(o.Slug) > 100) {
		errs.Add("slug", `Enter a valid "slug" of lowercase letters, numbers and single hyphens (at most 100 characters).`)
	}
	if len(o.Description) > 10000 {
		errs.Add("description", "Ensure this field has no more than 10000 characters.")
	}
	return errs.Err()
}

// checkOrgUnique reports every taken unique field at once; the unique indexes remain the backstop
// for a concurrent insert (PostgreSQL), mapped by orgUniqueErr.
func checkOrgUnique(ctx context.Context, tx *sql.Tx, o Organization) error {
	rows, err := tx.QueryContext(ctx, `SELECT lower(name) = lower($1), slug = $2 FROM organizations
		WHERE (lower(name) = lower($1) OR slug = $2) AND id <> $3`, o.Name, o.Slug, o.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	errs := apperr.FieldErrors{}
	for rows.Next() {
		var name, slug bool
		if err := rows.Scan(&name, &slug); err != nil {
			return err
		}
		if name && errs["name"] == nil {
			errs.Add("name", "organization with this name already exists.")
		}
		if slug && errs["slug"] == nil {
			errs.Add("slug", "organization with this slug already exists.")
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return errs.Err()
}

func orgUniqueErr(err error) error {
	if col, ok := db.IsUnique(err); ok {
		return apperr.Field(col, "organization with this "+col+" already exists.")
	}
	return err
}

func (o Organization) auditFields() map[string]any {
	return map[string]any{"name": o.Name, "slug": o.Slug, "description": o.Description, "is_active": o.IsActive,
		"require_two_factor": o.RequireTwoFactor}
}

// CreateOrganization creates an organization (superusers only).
func (s *Store) CreateOrganization(ctx context.Context, o Organization) (Organization, error) {
	c, err := caller(ctx)
	if err != nil {
		return o, err
	}
	if !superuser(c) {
		return o, apperr.ErrForbidden
	}
	if err := o.validate(); err != nil {
		return o, err
	}
	now := s.Now()
	o.CreatedAt, o.UpdatedAt = now, now
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := checkOrgUnique(ctx, tx, o); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO organizations (name, slug, description, is_active, require_two_factor, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`, o.Name, o.Slug, o.Description, o.IsActive, o.RequireTwoFactor, now).Scan(&o.ID)
		if err != nil {
			return orgUniqueErr(err)
		}
		if o.RequireTwoFactor {
			if err := s.announceAuth(ctx, tx); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, &o.ID, "create", "organization", &o.ID, o.Name, diff(nil, o.auditFields()))
	})
	if err != nil {
		return o, wrap(err, "create organization")
	}
	if o.RequireTwoFactor {
		s.authChanged() // superusers' sessions now need two-factor
	}
	return o, nil
}

// UpdateOrganization applies change to the stored organization and saves it (superusers only).
func (s *Store) UpdateOrganization(ctx context.Context, id int64, change func(*Organization) error) (Organization, error) {
	c, err := caller(ctx)
	if err != nil {
		return Organization{}, err
	}
	if !c.Reaches(id) {
		return Organization{}, apperr.ErrNotFound
	}
	if !superuser(c) {
		return Organization{}, apperr.ErrForbidden
	}
	var (
		o                  Organization
		requirementChanged bool
	)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		before, err := scanOrg(tx.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations o WHERE o.id = $1`+s.forUpdate(), id))
		if err != nil {
			return notFound(err, "get organization")
		}
		o = before
		if err := change(&o); err != nil {
			return err
		}
		o.ID, o.CreatedAt = before.ID, before.CreatedAt
		if err := o.validate(); err != nil {
			return err
		}
		ch := diff(before.auditFields(), o.auditFields())
		if len(ch) == 0 {
			o = before
			return nil
		}
		if err := checkOrgUnique(ctx, tx, o); err != nil {
			return err
		}
		o.UpdatedAt = s.Now()
		_, err = tx.ExecContext(ctx, `UPDATE organizations SET name = $1, slug = $2, description = $3, is_active = $4,
			require_two_factor = $5, updated_at = $6 WHERE id = $7`, o.Name, o.Slug, o.Description, o.IsActive, o.RequireTwoFactor, o.UpdatedAt, id)
		if err != nil {
			return orgUniqueErr(err)
		}
		if _, requirementChanged = ch["require_two_factor"]; requirementChanged {
			if err := s.announceAuth(ctx, tx); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, &o.ID, "update", "organization", &o.ID, o.Name, ch)
	})
	if err != nil {
		return o, wrap(err, "update organization")
	}
	if requirementChanged {
		s.authChanged() // members' sessions are checked against the requirement again
	}
	return o, nil
}

// DeleteOrganization deletes an organization and everything in it (superusers only).
func (s *Store) DeleteOrganization(ctx context.Context, id int64) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if !c.Reaches(id) {
		return apperr.ErrNotFound
	}
	if !superuser(c) {
		return apperr.ErrForbidden
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var name string
		if err := tx.QueryRowContext(ctx, `DELETE FROM organizations WHERE id = $1 RETURNING name`, id).Scan(&name); err != nil {
			return notFound(err, "delete organization")
		}
		if err := s.announceAuth(ctx, tx); err != nil {
			return err
		}
		return s.audit(ctx, tx, &id, "delete", "organization", &id, name, nil)
	})
	if err == nil {
		s.authChanged()
		s.changed("*") // everything in it went too
	}
	return wrap(err, "delete organization")
}

// SetTwoFactorRequired turns an organization's two-factor requirement on or off. Owners (org.settings)
// may, where the rest of the organization's record is for superusers.
func (s *Store) SetTwoFactorRequired(ctx context.Context, org int64, on bool) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if !c.Reaches(org) {
		return apperr.ErrNotFound
	}
	if !c.Can(org, auth.OrgSettings) {
		return apperr.ErrForbidden
	}
	changed := false
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var name string
		err := tx.QueryRowContext(ctx, `UPDATE organizations SET require_two_factor = $1, updated_at = $2
			WHERE id = $3 AND require_two_factor <> $1 RETURNING name`, on, s.Now(), org).Scan(&name)
		if err == sql.ErrNoRows {
			return nil
		} else if err != nil {
			return err
		}
		changed = true
		if err := s.announceAuth(ctx, tx); err != nil {
			return err
		}
		return s.audit(ctx, tx, &org, "update", "organization", &org, name, Changes{"require_two_factor": []any{!on, on}})
	})
	if changed {
		s.authChanged()
	}
	return wrap(err, "set two-factor requirement")
}
