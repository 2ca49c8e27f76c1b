package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/db"
)

// MemberRow is a member as Settings → Users lists them.
type MemberRow struct {
	UserID    int64
	Email     string
	Name      string
	Role      string
	IsActive  bool
	CreatedAt time.Time
}

// ListMembers lists an organization's members for a caller with members.manage there.
func (s *Store) ListMembers(ctx context.Context, org int64) ([]MemberRow, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Reaches(org) {
		return nil, apperr.ErrNotFound
	}
	if !c.Can(org, auth.MembersManage) {
		return nil, apperr.ErrForbidden
	}
	rows, err := s.r.QueryContext(ctx, `SELECT u.id, u.email, u.name, r.name, u.is_active, m.created_at FROM memberships m
		JOIN users u ON u.id = m.user_id JOIN roles r ON r.id = m.role_id WHERE m.organization_id = $1 ORDER BY u.email`, org)
	if err != nil {
		return nil, wrap(err, "list members")
	}
	defer rows.Close()
	var out []MemberRow
	for rows.Next() {
		var m MemberRow
		if err := rows.Scan(&m.UserID, &m.Email, &m.Name, &m.Role, &m.IsActive, &m.CreatedAt); err != nil {
			return nil, wrap(err, "list members")
		}
		out = append(out, m)
	}
	return out, wrap(rows.Err(), "list members")
}

// grantable checks that a caller may hand out role in org: no one gives more than they hold there.
func grantable(c *auth.Caller, org int64, role Role) error {
	if missing := role.Perms &^ c.PermsIn(org); missing != 0 {
		return apperr.Field("role", "You cannot give a role with permissions you do not have in this organization ("+
			strings.Join(missing.Names(), ", ")+").")
	}
	return nil
}

// InvitationLifetime is how long an invitation link works.
const InvitationLifetime = 7 * 24 * time.Hour

// Invitation is an open invitation to an organization.
type Invitation struct {
	ID        int64
	OrgID     int64
	OrgName   string
	Email     string
	Role      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Invite adds an existing account to the organization at once; for an address without an account
// it records an invitation and returns the one-time token of its link (shown once).
func (s *Store) Invite(ctx context.Context, org int64, email, roleName string) (token string, added bool, err error) {
	c, err := caller(ctx)
	if err != nil {
		return "", false, err
	}
	if !c.Reaches(org) {
		return "", false, apperr.ErrNotFound
	}
	if !c.Can(org, auth.MembersManage) {
		return "", false, apperr.ErrForbidden
	}
	if email, err = NormalizeEmail(email); err != nil {
		return "", false, err
	}
	if _, err := s.UserByEmail(ctx, email); err == nil {
		_, err := s.AddMember(ctx, org, email, roleName)
		return "", err == nil, err
	} else if !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Invalid) {
		return "", false, err
	}
	token = auth.NewSessionToken()
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
		now := s.Now()
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO invitations (organization_id, email, role_id, digest, created_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, org, email, role.ID, s.secrets.Digest(token), c.ActorID(), now,
			now.Add(InvitationLifetime)).Scan(&id); err != nil {
			return err
		}
		return s.audit(ctx, tx, &org, "invite", "invitation", &id, email, Changes{"role": []any{nil, roleName}})
	})
	if err != nil {
		return "", false, wrap(err, "invite")
	}
	return token, false, nil
}

// ListInvitations lists an organization's open invitations.
func (s *Store) ListInvitations(ctx context.Context, org int64) ([]Invitation, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Can(org, auth.MembersManage) {
		return nil, apperr.ErrForbidden
	}
	rows, err := s.r.QueryContext(ctx, `SELECT i.id, i.organization_id, o.name, i.email, r.name, i.created_at, i.expires_at
		FROM invitations i JOIN organizations o ON o.id = i.organization_id JOIN roles r ON r.id = i.role_id
		WHERE i.organization_id = $1 AND i.accepted_at IS NULL AND i.expires_at > $2 ORDER BY i.created_at DESC`, org, s.Now())
	if err != nil {
		return nil, wrap(err, "list invitations")
	}
	defer rows.Close()
	var out []Invitation
	for rows.Next() {
		var i Invitation
		if err := rows.Scan(&i.ID, &i.OrgID, &i.OrgName, &i.Email, &i.Role, &i.CreatedAt, &i.ExpiresAt); err != nil {
			return nil, wrap(err, "list invitations")
		}
		out = append(out, i)
	}
	return out, wrap(rows.Err(), "list invitations")
}

// ErrBadInvitation answers an unknown, used or expired link alike.
var ErrBadInvitation = &apperr.Error{Kind: apperr.NotFound, Detail: "This invitation link is not valid any more; ask for a new one."}

// InvitationByToken reads the open invitation a link stands for.
func (s *Store) InvitationByToken(ctx context.Context, token string) (Invitation, error) {
	var i Invitation
	err := s.r.QueryRowContext(ctx, `SELECT i.id, i.organization_id, o.name, i.email, r.name, i.created_at, i.expires_at
		FROM invitations i JOIN organizations o ON o.id = i.organization_id JOIN roles r ON r.id = i.role_id
		WHERE i.digest = $1 AND i.accepted_at IS NULL AND i.expires_at > $2`, s.secrets.Digest(token), s.Now()).
		Scan(&i.ID, &i.OrgID, &i.OrgName, &i.Email, &i.Role, &i.CreatedAt, &i.ExpiresAt)
	if err == sql.ErrNoRows {
		return i, ErrBadInvitation
	}
	return i, wrap(err, "read invitation")
}

// AcceptInvitation creates the invited account with its membership, once.
func (s *Store) AcceptInvitation(ctx context.Context, token, name, password string) (User, error) {
	inv, err := s.InvitationByToken(ctx, token)
	if err != nil {
		return User{}, err
	}
	u := User{Email: inv.Email, Name: strings.TrimSpace(name), IsActive: true}
	if err := auth.ValidatePassword(password); err != nil {
		return u, apperr.Field("password", strings.ToUpper(err.Error()[:1])+err.Error()[1:]+".")
	}
	hash, err := auth.HashPassword(ctx, password)
	if err != nil {
		return u, wrap(err, "hash password")
	}
	who := auth.WithCaller(ctx, &auth.Caller{User: auth.User{Email: inv.Email}})
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := s.Now()
		res, err := tx.ExecContext(ctx, `UPDATE invitations SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL`, now, inv.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrBadInvitation // accepted by a concurrent request
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO users (email, name, password_hash, is_superuser, is_active, created_at, updated_at)
			VALUES ($1, $2, $3, FALSE, TRUE, $4, $4) RETURNING id`, u.Email, u.Name, hash, now).Scan(&u.ID); err != nil {
			if _, ok := db.IsUnique(err); ok {
				return apperr.Field("email", "An account with this email exists already; ask to be added to the organization instead.")
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO memberships (user_id, organization_id, role_id, created_at, updated_at)
			SELECT $1, organization_id, role_id, $2, $2 FROM invitations WHERE id = $3`, u.ID, now, inv.ID); err != nil {
			return err
		}
		u.CreatedAt, u.UpdatedAt = now, now
		if err := s.announceAuth(ctx, tx); err != nil {
			return err
		}
		return s.audit(who, tx, &inv.OrgID, "invitation.accept", "user", &u.ID, u.Email, Changes{"role": []any{nil, inv.Role}})
	})
	if err == nil {
		s.authChanged()
	}
	return u, wrap(err, "accept invitation")
}
