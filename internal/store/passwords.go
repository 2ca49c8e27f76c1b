package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
	"clientst0r/internal/vault"
)

// PasswordTypes are the values of password_type.
var PasswordTypes = []string{"website", "api_key", "credit_card", "database", "email", "ftp", "network_device", "otp", "other",
	"server", "software_license", "ssh_key", "vpn", "wifi", "windows_ad"}

// BreachStatuses are the values of breach_status.
var BreachStatuses = []string{"unchecked", "clean", "breached", "error"}

// Password is a vault entry. Its password, TOTP secret and notes are sealed at rest.
type Password struct {
	Scoped
	Title         string
	Username      string
	URL           string
	PasswordType  string
	Tags          []string
	ExpiresAt     *time.Time
	AssetID       *int64
	Notes         string
	HasPassword   bool
	HasOTP        bool
	BreachStatus  string
	BreachCount   int
	BreachChecked *time.Time
	CreatedBy     *int64

	// SetPassword and SetOTP carry a write: nil keeps what is stored, "" clears, anything else
	// replaces it (a TOTP value is a base32 secret or an otpauth:// URI).
	SetPassword *string
	SetOTP      *string

	otp     *vault.OTP
	notesCT []byte
}

// IsExpired reports whether the entry's expiry has passed at now.
func (p Password) IsExpired(now time.Time) bool {
	return p.ExpiresAt != nil && !now.Before(*p.ExpiresAt)
}

// PasswordSpec declares the vault list: search never looks at notes or secrets.
var PasswordSpec = list.Spec{
	DefaultOrder: "title",
	OrgScoped:    true,
	Searchable:   true,
	Fields: []list.Field{
		{Name: "id", Column: "p.id", Kind: list.Int, Order: true},
		{Name: "organization", Column: "p.organization_id", Kind: list.Int, Order: true},
		textField("title", "p.title", true, false),
		textField("username", "p.username", true, false),
		textField("url", "p.url", true, false),
		{Name: "password_type", Column: "p.password_type", Kind: list.Enum, Enum: PasswordTypes, Filter: true, Order: true},
		{Name: "has_otp", Column: "p.has_otp", Kind: list.Bool, Filter: true, Order: true},
		passwordTags.filter("p"),
		{Name: "expires_at", Column: "p.expires_at", Kind: list.Time, Order: true, Range: true, Nullable: true},
		{Name: "expired", Kind: list.Bool, Filter: true, Where: "((p.expires_at IS NOT NULL AND p.expires_at <= ?) = ?)",
			Args: func(v any, now time.Time) []any { return []any{now, v} }},
		{Name: "breach_status", Column: "p.breach_status", Kind: list.Enum, Enum: BreachStatuses, Filter: true, Order: true},
		{Name: "breach_count", Column: "p.breach_count", Kind: list.Int, Order: true},
		{Name: "breach_checked_at", Column: "p.breach_checked_at", Kind: list.Time, Order: true, Nullable: true},
		{Name: "asset", Column: "p.asset_id", Kind: list.Int, Filter: true, Order: true, Nullable: true},
		{Name: "created_at", Column: "p.created_at", Kind: list.Time, Order: true, Range: true},
		{Name: "updated_at", Column: "p.updated_at", Kind: list.Time, Order: true, Range: true},
	},
}

var passwords = &kind[Password, *Password]{
	table: "passwords", alias: "p", object: "password", spec: &PasswordSpec,
	cols: []string{"title", "username", "url", "password_type", "expires_at", "asset_id", "has_otp", "breach_status",
		"breach_count", "breach_checked_at", "created_by"},
	values: func(p *Password) []any {
		return []any{p.Title, p.Username, p.URL, p.PasswordType, nullTime(p.ExpiresAt), p.AssetID, p.HasOTP, p.BreachStatus,
			p.BreachCount, nullTime(p.BreachChecked), p.CreatedBy}
	},
	selectCols: `p.title, p.username, p.url, p.password_type, p.expires_at, p.asset_id, p.has_otp, p.breach_status,
		p.breach_count, p.breach_checked_at, p.created_by, (p.password_ct IS NOT NULL), p.notes_ct`,
	dest: func(p *Password) []any {
		return []any{&p.Title, &p.Username, &p.URL, &p.PasswordType, &p.ExpiresAt, &p.AssetID, &p.HasOTP, &p.BreachStatus,
			&p.BreachCount, &p.BreachChecked, &p.CreatedBy, &p.HasPassword, &p.notesCT}
	},
	view: auth.VaultView, create: auth.VaultCreate, edit: auth.VaultEdit, remove: auth.VaultDelete,
	prepare: preparePassword,
	fields:  passwordFields,
	repr:    func(p *Password) string { return p.Title },
	loadMany: func(ctx context.Context, q queryer, s *Store, items []*Password) error {
		for _, p := range items {
			if p.notesCT != nil {
				n, err := s.keyring.OpenCT(ctx, p.notesCT, sealBinding(p, "notes_ct"))
				if err != nil {
					return fmt.Errorf("notes of password %d: %w", p.ID, err)
				}
				p.Notes = string(n)
			}
		}
		return passwordTags.load(ctx, q, items, func(p *Password) *[]string { return &p.Tags })
	},
	written: passwordWritten,
}

func sealBinding(p *Password, column string) vault.Binding {
	return vault.Binding{Table: "passwords", Column: column, Org: p.OrgID, Row: p.ID}
}

func preparePassword(ctx context.Context, q queryer, c *auth.Caller, p *Password) error {
	errs := apperr.FieldErrors{}
	p.Title = strings.TrimSpace(p.Title)
	if p.Title == "" {
		errs.Add("title", "This field may not be blank.")
	}
	for name, v := range map[string]string{"title": p.Title, "username": p.Username, "url": p.URL} {
		if utf8.RuneCountInString(v) > maxShort*5 {
			errs.Add(name, fmt.Sprintf("Ensure this field has no more than %d characters.", maxShort*5))
		}
	}
	if p.PasswordType == "" {
		p.PasswordType = "website"
	}
	if !slices.Contains(PasswordTypes, p.PasswordType) {
		errs.Add("password_type", fmt.Sprintf("%q is not a valid choice.", p.PasswordType))
	}
	if len(p.Notes) > maxNotes {
		errs.Add("notes", fmt.Sprintf("Ensure this field has no more than %d characters.", maxNotes))
	}
	if p.SetPassword != nil {
		if len(*p.SetPassword) > 10_000 {
			errs.Add("password", "Ensure this field has no more than 10000 characters.")
		}
		p.HasPassword = *p.SetPassword != ""
		p.BreachStatus, p.BreachCount, p.BreachChecked = "unchecked", 0, nil
	}
	if p.BreachStatus == "" {
		p.BreachStatus = "unchecked"
	}
	if p.SetOTP != nil {
		p.otp, p.HasOTP = nil, *p.SetOTP != ""
		if p.HasOTP {
			o, err := vault.ParseOTP(*p.SetOTP)
			if err != nil {
				errs.Add("otp_secret", strings.ToUpper(err.Error()[:1])+err.Error()[1:]+".")
			}
			p.otp = &o
		}
	}
	if tags, err := NormalizeTags(p.Tags); err != nil {
		errs.Add("tags", err.Error())
	} else {
		p.Tags = tags
	}
	if err := checkAsset(ctx, q, c, p.OrgID, p.AssetID, errs); err != nil {
		return err
	}
	return errs.Err()
}

func passwordFields(p *Password) map[string]any {
	notes := sha256.Sum256([]byte(p.Notes))
	f := map[string]any{"title": p.Title, "username": p.Username, "url": p.URL, "password_type": p.PasswordType,
		"tags": strings.Join(p.Tags, ","), "notes": hex.EncodeToString(notes[:]),
		"password": p.SetPassword != nil, "otp_secret": p.SetOTP != nil}
	f["expires_at"], f["asset"] = "", ""
	if p.ExpiresAt != nil {
		f["expires_at"] = p.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	if p.AssetID != nil {
		f["asset"] = *p.AssetID
	}
	return f
}

// passwordWritten seals what changed, now that the row id exists, keeps the tags, and queues a
// breach check for a new password.
func passwordWritten(ctx context.Context, tx *sql.Tx, s *Store, before, after *Password) error {
	if after == nil {
		return nil
	}
	if err := passwordTags.write(ctx, tx, before, after, func(p *Password) []string { return p.Tags }); err != nil {
		return err
	}
	var set []string
	var args []any
	seal := func(col string, plaintext []byte, clear bool) {
		var v any
		if !clear {
			v = s.keyring.Seal(plaintext, sealBinding(after, col))
		}
		args = append(args, v)
		set = append(set, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if after.SetPassword != nil {
		seal("password_ct", []byte(*after.SetPassword), *after.SetPassword == "")
	}
	if after.SetOTP != nil {
		var b []byte
		if after.otp != nil {
			b = after.otp.Marshal()
		}
		seal("otp_ct", b, after.otp == nil)
	}
	if before == nil || before.Notes != after.Notes {
		seal("notes_ct", []byte(after.Notes), after.Notes == "")
	}
	if len(set) > 0 {
		args = append(args, after.ID)
		if _, err := tx.ExecContext(ctx, `UPDATE passwords SET `+strings.Join(set, ", ")+fmt.Sprintf(" WHERE id = $%d", len(args)), args...); err != nil {
			return err
		}
	}
	if after.SetPassword != nil && *after.SetPassword != "" {
		return s.enqueuer.InsertTx(ctx, tx, BreachCheckArgs{PasswordID: after.ID}, s.Now())
	}
	return nil
}

// ListPasswords pages the vault entries the caller may view; lists never contain secrets.
func (s *Store) ListPasswords(ctx context.Context, q list.Query) ([]Password, int, error) {
	return listScoped(ctx, s, passwords, q)
}

// GetPassword reads one entry (notes included, never the password or TOTP secret).
func (s *Store) GetPassword(ctx context.Context, id int64) (Password, error) {
	return passwords.get(ctx, s, id)
}

// CreatePassword creates a vault entry.
func (s *Store) CreatePassword(ctx context.Context, p Password) (Password, error) {
	if c := auth.CallerFrom(ctx); c != nil {
		p.CreatedBy = c.ActorID()
	}
	return createScoped(ctx, s, passwords, p)
}

// UpdatePassword changes a vault entry.
func (s *Store) UpdatePassword(ctx context.Context, id int64, change func(*Password) error) (Password, error) {
	return updateScoped(ctx, s, passwords, id, change)
}

// DeletePassword deletes a vault entry.
func (s *Store) DeletePassword(ctx context.Context, id int64) error {
	return deleteScoped(ctx, s, passwords, id)
}

// openSecret decrypts one sealed column of an entry the caller may reveal, writing the audit row
// in the same transaction: the secret is returned only once its access is on record.
func (s *Store) openSecret(ctx context.Context, id int64, column, action string) (Password, []byte, error) {
	c, err := caller(ctx)
	if err != nil {
		return Password{}, nil, err
	}
	var p *Password
	var plain []byte
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if p, err = getScoped(ctx, s, passwords, tx, c, id, false); err != nil {
			return err
		}
		if !c.Can(p.OrgID, auth.VaultReveal) {
			return apperr.ErrForbidden
		}
		var ct []byte
		if err := tx.QueryRowContext(ctx, `SELECT `+column+` FROM passwords WHERE id = $1`, id).Scan(&ct); err != nil {
			return err
		}
		if ct != nil {
			if plain, err = s.keyring.OpenCT(ctx, ct, sealBinding(p, column)); err != nil {
				return fmt.Errorf("store: open %s of password %d: %w", column, id, err)
			}
		} else if column == "otp_ct" {
			return &apperr.Error{Kind: apperr.Invalid, Detail: "This entry has no TOTP secret."}
		}
		return s.audit(ctx, tx, &p.OrgID, action, "password", &p.ID, p.Title, nil)
	})
	if err != nil {
		return Password{}, nil, wrap(err, action+" password")
	}
	return *p, plain, nil
}

// RevealPassword returns the entry with its plaintext password ("" when none is set). It needs
// vault.reveal (and can_reveal on a key) and is audited before it returns.
func (s *Store) RevealPassword(ctx context.Context, id int64) (Password, string, error) {
	p, plain, err := s.openSecret(ctx, id, "password_ct", "reveal")
	return p, string(plain), err
}

// PasswordOTP returns the entry's current TOTP code, with the same permission and audit as reveal.
func (s *Store) PasswordOTP(ctx context.Context, id int64) (vault.Code, error) {
	_, plain, err := s.openSecret(ctx, id, "otp_ct", "otp")
	if err != nil {
		return vault.Code{}, err
	}
	o, err := vault.UnmarshalOTP(plain)
	if err != nil {
		return vault.Code{}, fmt.Errorf("store: read TOTP of password %d: %w", id, err)
	}
	return o.Code(s.now())
}
