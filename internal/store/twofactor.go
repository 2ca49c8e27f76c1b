package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/vault"
)

// Two-factor sign-in: an account's TOTP secret is sealed by the vault keyring, bound to its users
// row (organization 0), and never leaves the store except as the enrolment QR code and text shown
// to the account's owner before confirmation. Recovery codes are kept only as digests.

// TwoFactor is an account's two-factor state, as its owner sees it.
type TwoFactor struct {
	Enabled   bool
	EnabledAt *time.Time
	// Required says an organization of the account or the installation requires two-factor.
	Required bool
	// RecoveryLeft counts unused recovery codes.
	RecoveryLeft int
	// Setup is the unconfirmed secret while enrolment is under way (nil otherwise).
	Setup *TwoFactorSetup
}

// TwoFactorSetup is a secret waiting for its first code.
type TwoFactorSetup struct {
	Email  string
	Secret auth.TOTPSecret
}

// URI is the otpauth:// URI of the setup, for the QR code.
func (t TwoFactorSetup) URI() string { return auth.TOTPURI(t.Secret, t.Email) }

func totpBinding(userID int64, column string) vault.Binding {
	return vault.Binding{Table: "users", Column: column, Row: userID}
}

// sessionUser is the caller's own account; keys and the system caller have no two-factor.
func sessionUser(ctx context.Context) (*auth.Caller, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if c.User.ID == 0 || c.Key != nil {
		return nil, apperr.ErrForbidden
	}
	return c, nil
}

// twoFactorRequired reports whether the account must use two-factor: the installation requires it,
// or an organization the account reaches does (a superuser reaches every organization).
func (s *Store) twoFactorRequired(ctx context.Context, userID int64, superuser bool) (bool, error) {
	if s.requireTwoFactor {
		return true, nil
	}
	var req bool
	var err error
	if superuser {
		err = s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM organizations WHERE require_two_factor)`).Scan(&req)
	} else {
		err = s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM memberships m JOIN organizations o ON o.id = m.organization_id
			WHERE m.user_id = $1 AND o.require_two_factor)`, userID).Scan(&req)
	}
	return req, wrap(err, "two-factor requirement")
}

// totpRow is the two-factor part of a users row.
type totpRow struct {
	secretCT, pendingCT []byte
	enabledAt           sql.NullTime
	lastStep            int64
}

func (s *Store) readTOTP(ctx context.Context, q queryer, userID int64, lock bool) (totpRow, error) {
	var r totpRow
	query := `SELECT totp_secret_ct, totp_pending_ct, totp_enabled_at, totp_last_step FROM users WHERE id = $1`
	if lock {
		query += s.forUpdate()
	}
	if err := q.QueryRowContext(ctx, query, userID).Scan(&r.secretCT, &r.pendingCT, &r.enabledAt, &r.lastStep); err != nil {
		return r, notFound(err, "read two-factor")
	}
	return r, nil
}

func (s *Store) openTOTP(ctx context.Context, userID int64, column string, ct []byte) (auth.TOTPSecret, error) {
	b, err := s.keyring.OpenCT(ctx, ct, totpBinding(userID, column))
	if err != nil {
		return "", fmt.Errorf("store: open %s of user %d: %w", column, userID, err)
	}
	return auth.TOTPSecret(b), nil
}

// TwoFactorStatus returns the caller's two-factor state, with the pending setup if there is one.
func (s *Store) TwoFactorStatus(ctx context.Context) (TwoFactor, error) {
	c, err := sessionUser(ctx)
	if err != nil {
		return TwoFactor{}, err
	}
	r, err := s.readTOTP(ctx, s.r, c.User.ID, false)
	if err != nil {
		return TwoFactor{}, err
	}
	t := TwoFactor{Enabled: r.enabledAt.Valid, EnabledAt: timePtr(r.enabledAt)}
	if t.Required, err = s.twoFactorRequired(ctx, c.User.ID, c.User.IsSuperuser); err != nil {
		return t, err
	}
	if t.Enabled {
		err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, c.User.ID).Scan(&t.RecoveryLeft)
		return t, wrap(err, "two-factor status")
	}
	if r.pendingCT != nil {
		secret, err := s.openTOTP(ctx, c.User.ID, "totp_pending_ct", r.pendingCT)
		if err != nil {
			return t, err
		}
		t.Setup = &TwoFactorSetup{Email: c.User.Email, Secret: secret}
	}
	return t, nil
}

// StartTwoFactorSetup gives the caller a new secret to enrol, kept sealed until a code confirms it.
// An unconfirmed secret is reused unless fresh is set.
func (s *Store) StartTwoFactorSetup(ctx context.Context, fresh bool) (TwoFactorSetup, error) {
	c, err := sessionUser(ctx)
	if err != nil {
		return TwoFactorSetup{}, err
	}
	setup := TwoFactorSetup{Email: c.User.Email}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.readTOTP(ctx, tx, c.User.ID, true)
		if err != nil {
			return err
		}
		if r.enabledAt.Valid {
			return &apperr.Error{Kind: apperr.Conflict, Detail: "Two-factor is already on for this account."}
		}
		if r.pendingCT != nil && !fresh {
			setup.Secret, err = s.openTOTP(ctx, c.User.ID, "totp_pending_ct", r.pendingCT)
			return err
		}
		setup.Secret = auth.NewTOTPSecret()
		_, err = tx.ExecContext(ctx, `UPDATE users SET totp_pending_ct = $1 WHERE id = $2`,
			s.keyring.Seal([]byte(setup.Secret.Plain()), totpBinding(c.User.ID, "totp_pending_ct")), c.User.ID)
		return err
	})
	return setup, wrap(err, "start two-factor setup")
}

// EnableTwoFactor confirms the pending setup with a code from the authenticator app, turns
// two-factor on and returns the recovery codes, which are shown only this once.
func (s *Store) EnableTwoFactor(ctx context.Context, code string) ([]string, error) {
	c, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	var codes []string
	wrong := false
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.readTOTP(ctx, tx, c.User.ID, true)
		if err != nil {
			return err
		}
		if r.enabledAt.Valid {
			return &apperr.Error{Kind: apperr.Conflict, Detail: "Two-factor is already on for this account."}
		}
		if r.pendingCT == nil {
			return &apperr.Error{Kind: apperr.Invalid, Detail: "Start the setup first: no secret is waiting for confirmation."}
		}
		secret, err := s.openTOTP(ctx, c.User.ID, "totp_pending_ct", r.pendingCT)
		if err != nil {
			return err
		}
		step, ok := auth.VerifyTOTP(secret, code, s.Now(), 0)
		if !ok {
			wrong = true
			return nil
		}
		now := s.Now()
		_, err = tx.ExecContext(ctx, `UPDATE users SET totp_secret_ct = $1, totp_pending_ct = NULL, totp_enabled_at = $2, totp_last_step = $3,
			updated_at = $2 WHERE id = $4`, s.keyring.Seal([]byte(secret.Plain()), totpBinding(c.User.ID, "totp_secret_ct")), now, step, c.User.ID)
		if err != nil {
			return err
		}
		if codes, err = s.replaceRecoveryCodes(ctx, tx, c.User.ID); err != nil {
			return err
		}
		if err := s.announceAuth(ctx, tx); err != nil {
			return err
		}
		return s.audit(ctx, tx, nil, "2fa.enable", "user", &c.User.ID, c.User.Email, nil)
	})
	if err != nil {
		return nil, wrap(err, "enable two-factor")
	}
	if wrong {
		return nil, ErrWrongCode
	}
	s.authChanged() // a session that had to enrol is free now
	return codes, nil
}

// replaceRecoveryCodes drops the account's recovery codes and stores new ones as digests.
func (s *Store) replaceRecoveryCodes(ctx context.Context, tx *sql.Tx, userID int64) ([]string, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return nil, err
	}
	codes := auth.NewRecoveryCodes(auth.RecoveryCodeCount)
	now := s.Now()
	for _, code := range codes {
		n, _ := auth.NormalizeRecoveryCode(code)
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, digest, created_at) VALUES ($1, $2, $3)`,
			userID, s.recoveryDigest(n), now); err != nil {
			return nil, err
		}
	}
	return codes, nil
}

func (s *Store) recoveryDigest(normalized string) string {
	return s.secrets.Digest("recovery code\x00" + normalized)
}

// checkSecondFactor checks a TOTP code (consuming its time step) or a recovery code (consuming the
// code) for an account with two-factor on, in tx. It returns "totp" or "recovery_code" for a right
// code and "" for a wrong, reused or unusable one. A recovery code's use is audited.
func (s *Store) checkSecondFactor(ctx context.Context, tx *sql.Tx, who *auth.Caller, u User, code string) (string, error) {
	r, err := s.readTOTP(ctx, tx, u.ID, true)
	if err != nil {
		return "", err
	}
	if !r.enabledAt.Valid || r.secretCT == nil {
		return "", nil
	}
	if auth.LooksLikeTOTPCode(code) {
		secret, err := s.openTOTP(ctx, u.ID, "totp_secret_ct", r.secretCT)
		if err != nil {
			return "", err
		}
		step, ok := auth.VerifyTOTP(secret, code, s.Now(), r.lastStep)
		if !ok {
			return "", nil
		}
		// Conditional on the step, so two requests racing with one code cannot both pass.
		res, err := tx.ExecContext(ctx, `UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1`, step, u.ID)
		if err != nil {
			return "", err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return "", nil
		}
		return "totp", nil
	}
	n, ok := auth.NormalizeRecoveryCode(code)
	if !ok {
		return "", nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND digest = $3 AND used_at IS NULL`,
		s.Now(), u.ID, s.recoveryDigest(n))
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return "", nil
	}
	var left int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, u.ID).Scan(&left); err != nil {
		return "", err
	}
	return "recovery_code", s.auditAs(ctx, tx, who, nil, "2fa.recovery_used", "user", &u.ID, u.Email, Changes{"recovery_codes_left": left})
}

// reauthenticate checks, in tx, that the caller proved themselves again for a two-factor change:
// with a current code (or a recovery code) or with their password. A wrong proof is ErrWrongCode.
func (s *Store) reauthenticate(ctx context.Context, tx *sql.Tx, c *auth.Caller, code, password string) (bool, error) {
	if code != "" {
		u := User{ID: c.User.ID, Email: c.User.Email}
		how, err := s.checkSecondFactor(ctx, tx, c, u, code)
		return how != "", err
	}
	if password == "" {
		return false, nil
	}
	var hash string
	if err := tx.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = $1`, c.User.ID).Scan(&hash); err != nil {
		return false, err
	}
	return auth.VerifyPassword(ctx, hash, password)
}

// RegenerateRecoveryCodes replaces the caller's recovery codes after a current code or the
// password, and returns the new ones (shown once).
func (s *Store) RegenerateRecoveryCodes(ctx context.Context, code, password string) ([]string, error) {
	c, err := sessionUser(ctx)
	if err != nil {
		return nil, err
	}
	var codes []string
	wrong := false
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.readTOTP(ctx, tx, c.User.ID, true)
		if err != nil {
			return err
		}
		if !r.enabledAt.Valid {
			return &apperr.Error{Kind: apperr.Invalid, Detail: "Two-factor is not on for this account."}
		}
		ok, err := s.reauthenticate(ctx, tx, c, code, password)
		if err != nil || !ok {
			wrong = !ok
			return err
		}
		if codes, err = s.replaceRecoveryCodes(ctx, tx, c.User.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, nil, "2fa.recovery_regenerate", "user", &c.User.ID, c.User.Email, nil)
	})
	if err != nil {
		return nil, wrap(err, "regenerate recovery codes")
	}
	if wrong {
		return nil, ErrWrongCode
	}
	return codes, nil
}

// DisableTwoFactor turns two-factor off for the caller after a current code (or recovery code) or
// the password, and ends every other session (keep is this session's token).
func (s *Store) DisableTwoFactor(ctx context.Context, code, password, keep string) error {
	c, err := sessionUser(ctx)
	if err != nil {
		return err
	}
	wrong := false
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.readTOTP(ctx, tx, c.User.ID, true)
		if err != nil {
			return err
		}
		if !r.enabledAt.Valid {
			return &apperr.Error{Kind: apperr.Invalid, Detail: "Two-factor is not on for this account."}
		}
		ok, err := s.reauthenticate(ctx, tx, c, code, password)
		if err != nil || !ok {
			wrong = !ok
			return err
		}
		n, err := s.clearTwoFactor(ctx, tx, c.User.ID, keep)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, nil, "2fa.disable", "user", &c.User.ID, c.User.Email, Changes{"sessions_ended": n})
	})
	if err != nil {
		return wrap(err, "disable two-factor")
	}
	if wrong {
		return ErrWrongCode
	}
	s.authChanged()
	return nil
}

// clearTwoFactor removes an account's secret and recovery codes and ends its sessions but keep.
func (s *Store) clearTwoFactor(ctx context.Context, tx *sql.Tx, userID int64, keep string) (int64, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_secret_ct = NULL, totp_pending_ct = NULL, totp_enabled_at = NULL,
		updated_at = $1 WHERE id = $2`, s.Now(), userID); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return 0, err
	}
	return s.endSessions(ctx, tx, userID, keep)
}

// ResetTwoFactor turns two-factor off for an account that lost its authenticator and recovery
// codes, and signs it out everywhere (superusers and the command line only). The account enrols
// again at its next sign-in if two-factor is required of it.
func (s *Store) ResetTwoFactor(ctx context.Context, email string) error {
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
		if _, err := s.clearTwoFactor(ctx, tx, u.ID, ""); err != nil {
			return err
		}
		return s.audit(ctx, tx, nil, "2fa.reset", "user", &u.ID, u.Email, nil)
	})
	if err != nil {
		return wrap(err, "reset two-factor")
	}
	s.authChanged()
	return nil
}
