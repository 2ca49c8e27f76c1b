package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
)

const (
	// SessionIdleTimeout ends a web session that has not been used for this long: a working day.
	SessionIdleTimeout = 12 * time.Hour
	// SessionMaxLifetime ends every web session this long after sign-in, however busy.
	SessionMaxLifetime = 7 * 24 * time.Hour
	// sessionTouchInterval bounds last_seen_at writes to one per session per interval, so
	// authentication is not a write per request. Idle expiry is accurate to this much.
	sessionTouchInterval = time.Minute
	// PendingLoginLifetime is how long the two-factor step may take after the password.
	PendingLoginLifetime = 5 * time.Minute
	// PendingLoginAttempts is how many codes one pending login may try before the password is
	// asked for again.
	PendingLoginAttempts = 5
)

// Errors of the sign-in steps.
var (
	// ErrBadLogin is the one answer to a wrong email, a wrong password or a disabled account, so the
	// response does not tell which.
	ErrBadLogin = &apperr.Error{Kind: apperr.Unauthorized, Detail: "Invalid email or password."}
	// ErrPendingLogin answers a two-factor step whose pending login is unknown, expired or used up.
	ErrPendingLogin = &apperr.Error{Kind: apperr.Unauthorized, Detail: "Your sign-in timed out or had too many wrong codes; enter your password again."}
	// ErrWrongCode answers a wrong, reused or expired two-factor or recovery code.
	ErrWrongCode = &apperr.Error{Kind: apperr.Invalid, Detail: "That code is not correct (or was already used). Enter the current code from your authenticator app, or an unused recovery code."}
	// ErrSecondFactor is Login's answer for an account with two-factor: use BeginLogin.
	ErrSecondFactor = &apperr.Error{Kind: apperr.Unauthorized, Detail: "This account needs a two-factor code to sign in."}
)

// LoginResult is where a correct password leads: a session, or a pending login waiting for the
// two-factor code.
type LoginResult struct {
	User User
	// Session is the new session's token (empty while a code is still needed).
	Session string
	// Pending is the pending login's token when the account uses two-factor. It is not a session:
	// it only lets CompleteLogin try codes, a few times, for a few minutes.
	Pending string
	// MustEnrol says the account must set up two-factor (its organization or the installation
	// requires it) before the session may do anything else.
	MustEnrol bool
}

// Login checks a password and opens a session, returning its token, for accounts without
// two-factor (ErrSecondFactor otherwise). Every attempt is audited.
func (s *Store) Login(ctx context.Context, email, password, ip, userAgent string) (string, User, error) {
	res, err := s.BeginLogin(ctx, email, password, ip, userAgent)
	if err != nil {
		return "", res.User, err
	}
	if res.Session == "" {
		return "", res.User, ErrSecondFactor
	}
	return res.Session, res.User, nil
}

// BeginLogin checks a password. Without two-factor it opens a session; with two-factor it opens a
// pending login for CompleteLogin. Failures are audited as login_failed, sign-ins as login.
func (s *Store) BeginLogin(ctx context.Context, email, password, ip, userAgent string) (LoginResult, error) {
	who := &auth.Caller{User: auth.User{Email: email}, IP: ip, UserAgent: userAgent}
	e, _ := NormalizeEmail(email)
	var (
		res     LoginResult
		hash    string
		enabled bool
	)
	u := &res.User
	err := s.r.QueryRowContext(ctx, `SELECT `+userColumns+`, u.password_hash, u.totp_enabled_at IS NOT NULL FROM users u WHERE u.email = $1`, e).
		Scan(&u.ID, &u.Email, &u.Name, &u.IsSuperuser, &u.IsActive, &u.CreatedAt, &u.UpdatedAt, &hash, &enabled)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return res, wrap(err, "login")
	}
	ok, verr := auth.VerifyPassword(ctx, hash, password)
	if verr != nil {
		return res, wrap(verr, "login")
	}
	if !ok || !u.IsActive {
		if u.ID != 0 {
			who.User.ID = u.ID
		}
		aerr := s.db.Tx(ctx, func(tx *sql.Tx) error {
			return s.auditAs(ctx, tx, who, nil, "login_failed", "user", who.ActorID(), who.User.Email, nil)
		})
		if aerr != nil {
			return res, aerr
		}
		return res, ErrBadLogin
	}
	now := s.Now()
	if enabled {
		res.Pending = auth.NewSessionToken()
		_, err := s.db.W.ExecContext(ctx, `INSERT INTO pending_logins (digest, user_id, ip_address, user_agent, attempts, created_at, expires_at)
			VALUES ($1, $2, $3, $4, 0, $5, $6)`, s.secrets.Digest(res.Pending), u.ID, ip, clean(userAgent, 500), now, now.Add(PendingLoginLifetime))
		return res, wrap(err, "login")
	}
	if res.MustEnrol, err = s.twoFactorRequired(ctx, u.ID, u.IsSuperuser); err != nil {
		return res, err
	}
	who.User = auth.User{ID: u.ID, Email: u.Email, Name: u.Name, IsSuperuser: u.IsSuperuser}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if res.Session, err = s.newSession(ctx, tx, u.ID, ip, userAgent); err != nil {
			return err
		}
		return s.auditAs(ctx, tx, who, nil, "login", "user", &u.ID, u.Email, nil)
	})
	return res, wrap(err, "login")
}

// newSession opens a session for the user and returns its token.
func (s *Store) newSession(ctx context.Context, tx *sql.Tx, userID int64, ip, userAgent string) (string, error) {
	token := auth.NewSessionToken()
	now := s.Now()
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (digest, user_id, ip_address, user_agent, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $5, $6)`, s.secrets.Digest(token), userID, ip, clean(userAgent, 500), now, now.Add(SessionMaxLifetime))
	return token, err
}

// PendingLogin returns the account a pending login belongs to, so the two-factor step can apply
// the account's sign-in throttling before a code is checked.
func (s *Store) PendingLogin(ctx context.Context, token string) (User, error) {
	var expires time.Time
	u, err := scanUserAnd(s.r.QueryRowContext(ctx, `SELECT `+userColumns+`, p.expires_at FROM pending_logins p JOIN users u ON u.id = p.user_id
		WHERE p.digest = $1`, s.secrets.Digest(token)), &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrPendingLogin
	} else if err != nil {
		return u, wrap(err, "pending login")
	}
	if !s.Now().Before(expires) || !u.IsActive {
		return u, ErrPendingLogin
	}
	return u, nil
}

// CompleteLogin takes the two-factor code (or a recovery code) for a pending login and, when it is
// right, ends the pending login and opens a session. A wrong code counts against the pending
// login, which ends after PendingLoginAttempts; every wrong code is audited as login_failed.
func (s *Store) CompleteLogin(ctx context.Context, pending, code, ip, userAgent string) (LoginResult, error) {
	var (
		res     LoginResult
		outcome error
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var (
			pid, attempts int
			expires       time.Time
		)
		u, err := scanUserAnd(tx.QueryRowContext(ctx, `SELECT `+userColumns+`, p.id, p.attempts, p.expires_at
			FROM pending_logins p JOIN users u ON u.id = p.user_id WHERE p.digest = $1`+s.forUpdateOf("p"), s.secrets.Digest(pending)),
			&pid, &attempts, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			outcome = ErrPendingLogin
			return nil
		} else if err != nil {
			return err
		}
		res.User = u
		who := &auth.Caller{User: auth.User{ID: u.ID, Email: u.Email, Name: u.Name, IsSuperuser: u.IsSuperuser}, IP: ip, UserAgent: userAgent}
		if !s.Now().Before(expires) || !u.IsActive {
			_, err := tx.ExecContext(ctx, `DELETE FROM pending_logins WHERE id = $1`, pid)
			outcome = ErrPendingLogin
			return err
		}
		how, err := s.checkSecondFactor(ctx, tx, who, u, code)
		if err != nil {
			return err
		}
		if how == "" {
			outcome = ErrWrongCode
			if attempts+1 >= PendingLoginAttempts {
				_, err = tx.ExecContext(ctx, `DELETE FROM pending_logins WHERE id = $1`, pid)
			} else {
				_, err = tx.ExecContext(ctx, `UPDATE pending_logins SET attempts = attempts + 1 WHERE id = $1`, pid)
			}
			if err != nil {
				return err
			}
			return s.auditAs(ctx, tx, who, nil, "login_failed", "user", &u.ID, u.Email, Changes{"step": "two_factor"})
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_logins WHERE id = $1`, pid); err != nil {
			return err
		}
		if res.Session, err = s.newSession(ctx, tx, u.ID, ip, userAgent); err != nil {
			return err
		}
		return s.auditAs(ctx, tx, who, nil, "login", "user", &u.ID, u.Email, Changes{"two_factor": how})
	})
	if err != nil {
		return res, wrap(err, "complete login")
	}
	return res, outcome
}

// Logout ends the session with this token.
func (s *Store) Logout(ctx context.Context, token string) error {
	var err error
	if s.nodes == nil {
		_, err = s.db.W.ExecContext(ctx, `DELETE FROM sessions WHERE digest = $1`, s.secrets.Digest(token))
	} else {
		err = s.db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE digest = $1`, s.secrets.Digest(token)); err != nil {
				return err
			}
			return s.announceAuth(ctx, tx)
		})
	}
	if err == nil {
		s.authChanged()
	}
	return wrap(err, "logout")
}

// sessionEnd is when a cached session stops being valid: its absolute expiry, or the idle timeout
// after it was last seen, whichever comes first.
func (c cachedCaller) sessionEnd() time.Time {
	return earlier(c.absolute, c.lastSeen.Add(SessionIdleTimeout))
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// CallerForSession authenticates a session token from a cookie. A session ends SessionIdleTimeout
// after its last use or SessionMaxLifetime after sign-in; use is recorded at most once a minute.
func (s *Store) CallerForSession(ctx context.Context, token string) (*auth.Caller, error) {
	digest := s.secrets.Digest(token)
	gen := s.authGen.Load()
	now := s.now()
	c, ok := s.callerCache.get(digest)
	dirty := false
	if !ok || c.gen != gen || !now.Before(c.sessionEnd()) || !s.cacheTrusted() {
		// Unknown, stale, or expired as far as this node saw: the database decides, since another
		// node may have seen the session in use more recently (or, while this node may have missed
		// another's changes, ended it).
		loaded, err := s.loadSessionCaller(ctx, digest)
		if err != nil {
			return nil, err
		}
		if !now.Before(loaded.sessionEnd()) {
			return nil, ErrInvalidSession
		}
		c, dirty = loaded, true
		c.gen = gen
	}
	if now.Sub(c.lastSeen) >= sessionTouchInterval {
		res, err := s.db.W.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE digest = $2`, s.Now(), digest)
		if err != nil {
			return nil, wrap(err, "touch session")
		}
		if n, _ := res.RowsAffected(); n == 0 { // signed out meanwhile, perhaps on another node
			s.authChanged()
			return nil, ErrInvalidSession
		}
		c.lastSeen, dirty = s.Now(), true
	}
	if dirty {
		s.callerCache.put(digest, c)
	}
	return c.caller, nil
}

func (s *Store) loadSessionCaller(ctx context.Context, digest string) (cachedCaller, error) {
	var (
		absolute, lastSeen time.Time
		enrolled           bool
	)
	u, err := scanUserAnd(s.r.QueryRowContext(ctx, `SELECT `+userColumns+`, s.expires_at, s.last_seen_at, u.totp_enabled_at IS NOT NULL
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.digest = $1`, digest), &absolute, &lastSeen, &enrolled)
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
	if !enrolled {
		if c.NeedsTwoFactor, err = s.twoFactorRequired(ctx, u.ID, u.IsSuperuser); err != nil {
			return cachedCaller{}, err
		}
	}
	return cachedCaller{caller: c, absolute: absolute.UTC(), lastSeen: lastSeen.UTC()}, nil
}

// scanUserAnd scans userColumns followed by more columns.
func scanUserAnd(r rowScanner, more ...any) (User, error) {
	var u User
	err := r.Scan(append([]any{&u.ID, &u.Email, &u.Name, &u.IsSuperuser, &u.IsActive, &u.CreatedAt, &u.UpdatedAt}, more...)...)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, err
}

// Session is one of an account's signed-in browsers.
type Session struct {
	ID         int64
	IPAddress  string
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is when it ends unless used again: the idle timeout or the absolute end.
	ExpiresAt time.Time
	// Current is the session the list was asked from.
	Current bool
}

// ListSessions lists the caller's active sessions, newest first; current is the caller's own token.
func (s *Store) ListSessions(ctx context.Context, current string) ([]Session, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	rows, err := s.r.QueryContext(ctx, `SELECT id, digest, ip_address, user_agent, created_at, last_seen_at, expires_at FROM sessions
		WHERE user_id = $1 AND expires_at > $2 AND last_seen_at > $3 ORDER BY last_seen_at DESC, id DESC`,
		c.User.ID, now, now.Add(-SessionIdleTimeout))
	if err != nil {
		return nil, wrap(err, "list sessions")
	}
	defer rows.Close()
	cur := s.secrets.Digest(current)
	var out []Session
	for rows.Next() {
		var (
			x       Session
			digest  string
			expires time.Time
		)
		if err := rows.Scan(&x.ID, &digest, &x.IPAddress, &x.UserAgent, &x.CreatedAt, &x.LastSeenAt, &expires); err != nil {
			return nil, wrap(err, "list sessions")
		}
		x.CreatedAt, x.LastSeenAt = x.CreatedAt.UTC(), x.LastSeenAt.UTC()
		x.ExpiresAt = earlier(expires.UTC(), x.LastSeenAt.Add(SessionIdleTimeout))
		x.Current = digest == cur
		out = append(out, x)
	}
	return out, wrap(rows.Err(), "list sessions")
}

// RevokeSessions signs the caller's account out everywhere: every session ends, except the one
// with token keep when it is not empty. It returns how many ended and is audited.
func (s *Store) RevokeSessions(ctx context.Context, keep string) (int64, error) {
	c, err := caller(ctx)
	if err != nil {
		return 0, err
	}
	if c.User.ID == 0 || c.Key != nil {
		return 0, apperr.ErrForbidden
	}
	var n int64
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if n, err = s.endSessions(ctx, tx, c.User.ID, keep); err != nil {
			return err
		}
		return s.audit(ctx, tx, nil, "logout_everywhere", "user", &c.User.ID, c.User.Email, Changes{"sessions": n})
	})
	if err != nil {
		return 0, wrap(err, "revoke sessions")
	}
	s.authChanged()
	return n, nil
}

// endSessions deletes a user's sessions and pending logins, except the session with token keep,
// and tells the other nodes. The caller calls authChanged after the commit.
func (s *Store) endSessions(ctx context.Context, tx *sql.Tx, userID int64, keep string) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND digest <> $2`, userID, s.secrets.Digest(keep))
	if err != nil {
		return 0, err
	}
	if err := s.announceAuth(ctx, tx); err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	_, err = tx.ExecContext(ctx, `DELETE FROM pending_logins WHERE user_id = $1`, userID)
	return n, err
}

// ChangePassword sets a new password for the caller's account after checking the current one, and
// ends every other session (keep is this session's token). It is audited without the passwords.
func (s *Store) ChangePassword(ctx context.Context, current, password, keep string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if c.User.ID == 0 || c.Key != nil {
		return apperr.ErrForbidden
	}
	var hash string
	if err := s.r.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = $1`, c.User.ID).Scan(&hash); err != nil {
		return notFound(err, "change password")
	}
	if ok, err := auth.VerifyPassword(ctx, hash, current); err != nil {
		return wrap(err, "change password")
	} else if !ok {
		return apperr.Field("current_password", "Your current password is not correct.")
	}
	if err := auth.ValidatePassword(password); err != nil {
		return apperr.Field("password", strings.ToUpper(err.Error()[:1])+err.Error()[1:]+".")
	}
	if hash, err = auth.HashPassword(ctx, password); err != nil {
		return wrap(err, "hash password")
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`, hash, s.Now(), c.User.ID); err != nil {
			return err
		}
		n, err := s.endSessions(ctx, tx, c.User.ID, keep)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, nil, "password.change", "user", &c.User.ID, c.User.Email, Changes{"password": nil, "sessions_ended": n})
	})
	if err != nil {
		return wrap(err, "change password")
	}
	s.authChanged()
	return nil
}

// DeleteExpired removes sessions past their absolute expiry or idle timeout, pending logins past
// theirs, idempotency records older than a day and the rate counts of ended windows. The retention
// job runs it.
func (s *Store) DeleteExpired(ctx context.Context) (sessions, idempotency int64, err error) {
	now := s.Now()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2`, now, now.Add(-SessionIdleTimeout))
		if err != nil {
			return err
		}
		sessions, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_logins WHERE expires_at <= $1`, now); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at <= $1`, now.Add(-IdempotencyWindow))
		if err != nil {
			return err
		}
		idempotency, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `DELETE FROM rate_counters WHERE expires_at <= $1`, now)
		return err
	})
	return sessions, idempotency, wrap(err, "delete expired")
}
