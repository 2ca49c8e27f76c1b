package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
)

// SessionLifetime is how long a web login lasts: a working day.
const SessionLifetime = 12 * time.Hour

// ErrBadLogin is the one answer to a wrong email, a wrong password or a disabled account, so the
// response does not tell which.
var ErrBadLogin = &apperr.Error{Kind: apperr.Unauthorized, Detail: "Invalid email or password."}

// Login checks a password and opens a session, returning its token. Every attempt is audited.
func (s *Store) Login(ctx context.Context, email, password, ip, userAgent string) (string, User, error) {
	who := &auth.Caller{User: auth.User{Email: email}, IP: ip, UserAgent: userAgent}
	e, _ := NormalizeEmail(email)
	var (
		u    User
		hash string
	)
	err := s.r.QueryRowContext(ctx, `SELECT `+userColumns+`, u.password_hash FROM users u WHERE u.email = $1`, e).
		Scan(&u.ID, &u.Email, &u.Name, &u.IsSuperuser, &u.IsActive, &u.CreatedAt, &u.UpdatedAt, &hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", u, wrap(err, "login")
	}
	ok, verr := auth.VerifyPassword(ctx, hash, password)
	if verr != nil {
		return "", u, wrap(verr, "login")
	}
	if !ok || !u.IsActive {
		if u.ID != 0 {
			who.User.ID = u.ID
		}
		aerr := s.db.Tx(ctx, func(tx *sql.Tx) error {
			return s.auditAs(ctx, tx, who, nil, "login_failed", "user", who.ActorID(), who.User.Email, nil)
		})
		if aerr != nil {
			return "", u, aerr
		}
		return "", u, ErrBadLogin
	}
	who.User = auth.User{ID: u.ID, Email: u.Email, Name: u.Name, IsSuperuser: u.IsSuperuser}
	token := auth.NewSessionToken()
	now := s.Now()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (digest, user_id, ip_address, user_agent, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, s.secrets.Digest(token), u.ID, ip, clean(userAgent, 500), now, now.Add(SessionLifetime)); err != nil {
			return err
		}
		return s.auditAs(ctx, tx, who, nil, "login", "user", &u.ID, u.Email, nil)
	})
	return token, u, wrap(err, "login")
}

// Logout ends the session with this token.
func (s *Store) Logout(ctx context.Context, token string) error {
	_, err := s.db.W.ExecContext(ctx, `DELETE FROM sessions WHERE digest = $1`, s.secrets.Digest(token))
	if err == nil {
		s.authChanged()
	}
	return wrap(err, "logout")
}

// CallerForSession authenticates a session token from a cookie.
func (s *Store) CallerForSession(ctx context.Context, token string) (*auth.Caller, error) {
	return s.cachedCall(ctx, s.secrets.Digest(token), ErrInvalidSession, s.loadSessionCaller)
}

func (s *Store) loadSessionCaller(ctx context.Context, digest string) (cachedCaller, error) {
	var (
		u       User
		expires time.Time
	)
	err := s.r.QueryRowContext(ctx, `SELECT `+userColumns+`, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.digest = $1`, digest).Scan(&u.ID, &u.Email, &u.Name, &u.IsSuperuser, &u.IsActive, &u.CreatedAt, &u.UpdatedAt, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return cachedCaller{}, ErrInvalidSession
	} else if err != nil {
		return cachedCaller{}, wrap(err, "load session")
	}
	if !u.IsActive {
		return cachedCaller{}, ErrInvalidSession
	}
	c, err := s.userCaller(ctx, u)
	if err != nil {
		return cachedCaller{}, err
	}
	expires = expires.UTC()
	return cachedCaller{caller: c, expires: &expires}, nil
}

// DeleteExpired removes sessions past their expiry and idempotency records older than a day. The
// retention job runs it.
func (s *Store) DeleteExpired(ctx context.Context) (sessions, idempotency int64, err error) {
	now := s.Now()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now)
		if err != nil {
			return err
		}
		sessions, _ = res.RowsAffected()
		res, err = tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at <= $1`, now.Add(-IdempotencyWindow))
		if err != nil {
			return err
		}
		idempotency, _ = res.RowsAffected()
		return nil
	})
	return sessions, idempotency, wrap(err, "delete expired")
}
