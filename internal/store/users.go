package store

import (
	"context"
	"database/sql"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/db"
)

// User is an account.
type User struct {
	ID          int64
	Email       string
	Name        string
	IsSuperuser bool
	IsActive    bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const userColumns = `u.id, u.email, u.name, u.is_superuser, u.is_active, u.created_at, u.updated_at`

func scanUser(r rowScanner) (User, error) {
	var u User
	err := r.Scan(&u.ID, &u.Email, &u.Name, &u.IsSuperuser, &u.IsActive, &u.CreatedAt, &u.UpdatedAt)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, err
}

// NormalizeEmail validates an address and returns it in lower case, the form emails are stored in.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") {
		return "", apperr.Field("email", "Enter a valid email address.")
	}
	return strings.ToLower(s), nil
}

// CreateUser creates an account (superusers and the command line only).
func (s *Store) CreateUser(ctx context.Context, u User, password string) (User, error) {
	c, err := caller(ctx)
	if err != nil {
		return u, err
	}
	if !superuser(c) {
		return u, apperr.ErrForbidden
	}
	if u.Email, err = NormalizeEmail(u.Email); err != nil {
		return u, err
	}
	u.Name = strings.TrimSpace(u.Name)
	if utf8.RuneCountInString(u.Name) > 200 {
		return u, apperr.Field("name", "Ensure this field has no more than 200 characters.")
	}
	if err := auth.ValidatePassword(password); err != nil {
		return u, apperr.Field("password", strings.ToUpper(err.Error()[:1])+err.Error()[1:]+".")
	}
	hash, err := auth.HashPassword(ctx, password)
	if err != nil {
		return u, wrap(err, "hash password")
	}
	now := s.Now()
	u.IsActive, u.CreatedAt, u.UpdatedAt = true, now, now
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO users (email, name, password_hash, is_superuser, is_active, created_at, updated_at)
			VALUES ($1, $2, $3, $4, TRUE, $5, $5) RETURNING id`, u.Email, u.Name, hash, u.IsSuperuser, now).Scan(&u.ID)
		if _, ok := db.IsUnique(err); ok {
			return apperr.Field("email", "user with this email already exists.")
		} else if err != nil {
			return err
		}
		return s.audit(ctx, tx, nil, "create", "user", &u.ID, u.Email,
			Changes{"email": []any{nil, u.Email}, "is_superuser": []any{nil, u.IsSuperuser}, "password": nil})
	})
	return u, wrap(err, "create user")
}

// UserByEmail finds an account for operator commands (no access check).
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.email = $1`, e))
	if err != nil {
		if err == sql.ErrNoRows {
			return u, apperr.Field("email", "No user with this email.")
		}
		return u, wrap(err, "user by email")
	}
	return u, nil
}

// HasUsers reports whether any account exists (first-start hint).
func (s *Store) HasUsers(ctx context.Context) (bool, error) {
	var ok bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&ok)
	return ok, wrap(err, "has users")
}

// DeactivateUser disables an account and ends its sessions (superusers only). Its keys stop
// working on the next request.
func (s *Store) DeactivateUser(ctx context.Context, email string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if !superuser(c) {
		return apperr.ErrForbidden
	}
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET is_active = FALSE, updated_at = $1 WHERE id = $2`, s.Now(), u.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, u.ID); err != nil {
			return err
		}
		if err := s.announceAuth(ctx, tx); err != nil {
			return err
		}
		return s.audit(ctx, tx, nil, "update", "user", &u.ID, u.Email, Changes{"is_active": []any{u.IsActive, false}})
	})
	if err == nil {
		s.authChanged()
	}
	return wrap(err, "deactivate user")
}

// Member is one membership with the user's and role's names.
type Member struct {
	UserID    int64
	Email     string
	OrgID     int64
	Role      string
	CreatedAt time.Time
}

// AddMember gives a user a role in an organization, or changes the role they have there. The caller
// needs members.manage in that organization.
func (s *Store) AddMember(ctx context.Context, org int64, email, roleName string) (Member, error) {
	c, err := caller(ctx)
	if err != nil {
		return Member{}, err
	}
	if !c.Reaches(org) {
		return Member{}, apperr.ErrNotFound
	}
	if !c.Can(org, auth.MembersManage) {
		return Member{}, apperr.ErrForbidden
	}
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return Member{}, err
	}
	m := Member{UserID: u.ID, Email: u.Email, OrgID: org, Role: roleName}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		role, err := roleByName(ctx, tx, roleName)
		if apperr.Is(err, apperr.NotFound) {
			return apperr.Field("role", "Unknown role \""+roleName+"\".")
		} else if err != nil {
			return err
		}
		if err := grantable(c, org, role); err != nil {
			return err
		}
		var oldRole sql.NullString
		err = tx.QueryRowContext(ctx, `SELECT r.name FROM memberships m JOIN roles r ON r.id = m.role_id
			WHERE m.user_id = $1 AND m.organization_id = $2`, u.ID, org).Scan(&oldRole)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		if oldRole.String == roleName {
			return nil
		}
		if err := canManageMember(ctx, tx, c, org, oldRole); err != nil {
			return err
		}
		now := s.Now()
		m.CreatedAt = now
		_, err = tx.ExecContext(ctx, `INSERT INTO memberships (user_id, organization_id, role_id, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4)
			ON CONFLICT (user_id, organization_id) DO UPDATE SET role_id = excluded.role_id, updated_at = excluded.updated_at`,
			u.ID, org, role.ID, now)
		if err != nil {
			return err
		}
		action := "member.add"
		if oldRole.Valid {
			action = "member.update"
		}
		if err := s.announceAuth(ctx, tx); err != nil {
			return err
		}
		return s.audit(ctx, tx, &org, action, "membership", &u.ID, u.Email, Changes{"role": []any{nullString(oldRole), roleName}})
	})
	if err == nil {
		s.authChanged()
	}
	return m, wrap(err, "add member")
}

// RemoveMember takes a user's membership of an organization away.
func (s *Store) RemoveMember(ctx context.Context, org int64, email string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if !c.Reaches(org) {
		return apperr.ErrNotFound
	}
	if !c.Can(org, auth.MembersManage) {
		return apperr.ErrForbidden
	}
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var oldRole sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT r.name FROM memberships m JOIN roles r ON r.id = m.role_id
			WHERE m.user_id = $1 AND m.organization_id = $2`, u.ID, org).Scan(&oldRole)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		if err := canManageMember(ctx, tx, c, org, oldRole); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE user_id = $1 AND organization_id = $2`, u.ID, org)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.Field("email", u.Email+" is not a member of this organization.")
		}
		if err := s.unassignVehicles(ctx, tx, org, u.ID); err != nil {
			return err
		}
		if err := s.announceAuth(ctx, tx); err != nil {
			return err
		}
		return s.audit(ctx, tx, &org, "member.remove", "membership", &u.ID, u.Email, nil)
	})
	if err == nil {
		s.authChanged()
		s.changed("vehicles")
	}
	return wrap(err, "remove member")
}

// canManageMember checks that a caller may change or remove a member holding role (none: not a
// member yet): no one demotes or removes someone with permissions they lack themselves.
func canManageMember(ctx context.Context, q queryer, c *auth.Caller, org int64, role sql.NullString) error {
	if !role.Valid {
		return nil
	}
	r, err := roleByName(ctx, q, role.String)
	if err != nil {
		return err
	}
	if missing := r.Perms &^ c.PermsIn(org); missing != 0 {
		return apperr.Field("email", "This member has permissions you do not have in this organization; an owner must change them.")
	}
	return nil
}

func nullString(n sql.NullString) any {
	if !n.Valid {
		return nil
	}
	return n.String
}
