package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
)

// Rate limit bounds for keys, in requests per minute.
const (
	DefaultRateLimit = 600
	MaxRateLimit     = 100000
)

// APIKey is a key as listed; the plaintext is never stored.
type APIKey struct {
	ID         int64
	UserID     int64
	Name       string
	Prefix     string
	Role       string  // cap; "" for none
	Orgs       []int64 // nil: all of the user's organizations
	CanReveal  bool
	RateLimit  int
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	LastUsedIP string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// APIKeySpec declares the keys list.
var APIKeySpec = list.Spec{
	DefaultOrder: "-created_at",
	Fields: []list.Field{
		{Name: "id", Column: "k.id", Kind: list.Int, Order: true},
		{Name: "name", Column: "k.name", Order: true},
		{Name: "prefix", Column: "k.prefix", Order: true, Filter: true},
		{Name: "can_reveal", Column: "k.can_reveal", Kind: list.Bool, Order: true, Filter: true},
		{Name: "rate_limit", Column: "k.rate_limit", Kind: list.Int, Order: true},
		{Name: "expires_at", Column: "k.expires_at", Kind: list.Time, Order: true, Nullable: true},
		{Name: "last_used_at", Column: "k.last_used_at", Kind: list.Time, Order: true, Nullable: true},
		{Name: "created_at", Column: "k.created_at", Kind: list.Time, Order: true},
		{Name: "updated_at", Column: "k.updated_at", Kind: list.Time, Order: true},
	},
}

const keyColumns = `k.id, k.user_id, k.name, k.prefix, COALESCE(r.name, ''), k.all_organizations, k.can_reveal, k.rate_limit,
	k.expires_at, k.last_used_at, COALESCE(k.last_used_ip, ''), k.created_at, k.updated_at`

const keyFrom = `api_keys k LEFT JOIN roles r ON r.id = k.role_id`

func scanKey(r rowScanner) (APIKey, bool, error) {
	var (
		k                 APIKey
		all               bool
		expires, lastUsed sql.NullTime
	)
	err := r.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.Role, &all, &k.CanReveal, &k.RateLimit, &expires, &lastUsed,
		&k.LastUsedIP, &k.CreatedAt, &k.UpdatedAt)
	k.ExpiresAt, k.LastUsedAt = timePtr(expires), timePtr(lastUsed)
	k.CreatedAt, k.UpdatedAt = k.CreatedAt.UTC(), k.UpdatedAt.UTC()
	return k, all, err
}

// NewKey is what a caller asks for when creating a key.
type NewKey struct {
	UserID    int64 // 0: the caller
	Name      string
	Role      string  // cap; "" for none
	Orgs      []int64 // nil: all of the user's organizations
	CanReveal bool
	RateLimit int // 0: the default
	ExpiresAt *time.Time
}

// CreateAPIKey creates a key and returns it with its plaintext, which is not kept. A key never
// grants more than whoever creates it holds: its organizations, role cap, reveal flag and expiry
// must lie within the creator's own access (and, when the creator is itself a key, within that key).
func (s *Store) CreateAPIKey(ctx context.Context, in NewKey) (APIKey, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return APIKey{}, "", err
	}
	grantor := c
	switch {
	case in.UserID == 0 || in.UserID == c.User.ID:
		if c.User.ID == 0 {
			return APIKey{}, "", apperr.Field("user", "A key needs a user.")
		}
		in.UserID = c.User.ID
	case superuser(c):
		u, err := s.userByID(ctx, in.UserID)
		if err != nil {
			return APIKey{}, "", err
		}
		if !u.IsActive {
			return APIKey{}, "", apperr.Field("user", "This user is deactivated.")
		}
		if grantor, err = s.userCaller(ctx, u); err != nil {
			return APIKey{}, "", err
		}
	default:
		return APIKey{}, "", apperr.ErrForbidden
	}

	errs := apperr.FieldErrors{}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		errs.Add("name", "This field may not be blank.")
	} else if utf8.RuneCountInString(in.Name) > 100 {
		errs.Add("name", "Ensure this field has no more than 100 characters.")
	}
	if gk := grantor.Key; gk != nil {
		// A key creating a key passes on its own restrictions by default.
		if in.Orgs == nil && gk.Orgs != nil {
			in.Orgs = slices.Clone(gk.Orgs)
		}
		if in.Role == "" {
			in.Role = gk.RoleName
		}
		if gk.ExpiresAt != nil && (in.ExpiresAt == nil || in.ExpiresAt.After(*gk.ExpiresAt)) {
			in.ExpiresAt = gk.ExpiresAt
		}
	}
	if in.Orgs != nil {
		slices.Sort(in.Orgs)
		in.Orgs = slices.Compact(in.Orgs)
		if len(in.Orgs) == 0 {
			errs.Add("organizations", "Choose at least one organization, or null for all of yours.")
		}
		for _, id := range in.Orgs {
			if !grantor.Reaches(id) {
				errs.Add("organizations", fmt.Sprintf("Organization %d is not one of yours.", id))
			}
		}
	}
	// What the key could reach: the grantor's permissions in the key's organizations.
	var reach auth.Perms
	if in.Orgs == nil {
		reach = grantor.UnionPerms()
	} else {
		for _, id := range in.Orgs {
			reach |= grantor.PermsIn(id)
		}
	}
	var roleID any
	if in.Role != "" {
		r, err := roleByName(ctx, s.r, in.Role)
		switch {
		case apperr.Is(err, apperr.NotFound):
			errs.Add("role", fmt.Sprintf("Unknown role %q.", in.Role))
		case err != nil:
			return APIKey{}, "", err
		case r.Perms&^reach&^auth.Of(auth.VaultReveal) != 0: // reveal is governed by can_reveal
			errs.Add("role", fmt.Sprintf("The role %q grants more than you hold in these organizations.", r.Name))
		default:
			roleID = r.ID
		}
	}
	if in.CanReveal && !reach.Has(auth.VaultReveal) {
		errs.Add("can_reveal", "You cannot reveal passwords in these organizations, so neither can this key.")
	}
	if in.RateLimit == 0 {
		in.RateLimit = DefaultRateLimit
	}
	if in.RateLimit < 1 || in.RateLimit > MaxRateLimit {
		errs.Add("rate_limit", fmt.Sprintf("Ensure this value is between 1 and %d.", MaxRateLimit))
	}
	now := s.Now()
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		errs.Add("expires_at", "The expiry must be in the future.")
	}
	if err := errs.Err(); err != nil {
		return APIKey{}, "", err
	}

	plaintext, prefix := auth.NewAPIKey()
	k := APIKey{UserID: in.UserID, Name: in.Name, Prefix: prefix, Role: in.Role, Orgs: in.Orgs, CanReveal: in.CanReveal,
		RateLimit: in.RateLimit, ExpiresAt: in.ExpiresAt, CreatedAt: now, UpdatedAt: now}
	if k.ExpiresAt != nil {
		t := k.ExpiresAt.UTC().Truncate(time.Microsecond)
		k.ExpiresAt = &t
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO api_keys (user_id, name, prefix, digest, role_id, all_organizations,
			can_reveal, rate_limit, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
			RETURNING id`, k.UserID, k.Name, k.Prefix, s.secrets.Digest(plaintext), roleID, k.Orgs == nil, k.CanReveal,
			k.RateLimit, nullTime(k.ExpiresAt), now).Scan(&k.ID)
		if err != nil {
			return err
		}
		for _, org := range k.Orgs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO api_key_organizations (api_key_id, organization_id) VALUES ($1, $2)`, k.ID, org); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, nil, "apikey.create", "apikey", &k.ID, k.Prefix+" "+k.Name, Changes{
			"name": []any{nil, k.Name}, "role": []any{nil, k.Role}, "organizations": []any{nil, k.Orgs},
			"can_reveal": []any{nil, k.CanReveal}, "rate_limit": []any{nil, k.RateLimit}, "user_id": []any{nil, k.UserID}})
	})
	if err != nil {
		return APIKey{}, "", wrap(err, "create key")
	}
	return k, plaintext, nil
}

func (s *Store) userByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id))
	if err != nil {
		return u, notFound(err, "user")
	}
	return u, nil
}

// ListAPIKeys pages the caller's own unrevoked keys.
func (s *Store) ListAPIKeys(ctx context.Context, q list.Query) ([]APIKey, int, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, 0, err
	}
	l := listing{table: "api_keys", alias: "k", from: keyFrom, columns: keyColumns}
	l.where.add("k.user_id = ? AND k.revoked_at IS NULL", c.User.ID)
	var (
		out    []APIKey
		narrow []int64
	)
	n, err := s.runList(ctx, &APIKeySpec, q, &l, func(r *sql.Rows) error {
		k, all, err := scanKey(r)
		if !all {
			narrow = append(narrow, k.ID)
		}
		out = append(out, k)
		return err
	})
	if err != nil || len(narrow) == 0 {
		return out, n, err
	}
	// One query for the page's organization lists, not one per key.
	var in query
	in.add("SELECT api_key_id, organization_id FROM api_key_organizations WHERE ")
	in.inList("api_key_id", narrow)
	in.add(" ORDER BY organization_id")
	rows, err := s.r.QueryContext(ctx, in.String(), in.args...)
	if err != nil {
		return nil, 0, wrap(err, "key organizations")
	}
	defer rows.Close()
	byKey := map[int64][]int64{}
	for _, id := range narrow {
		byKey[id] = []int64{}
	}
	for rows.Next() {
		var k, o int64
		if err := rows.Scan(&k, &o); err != nil {
			return nil, 0, wrap(err, "key organizations")
		}
		byKey[k] = append(byKey[k], o)
	}
	for i := range out {
		if orgs, ok := byKey[out[i].ID]; ok {
			out[i].Orgs = orgs
		}
	}
	return out, n, wrap(rows.Err(), "key organizations")
}

// GetAPIKey returns one of the caller's keys (superusers: any user's key).
func (s *Store) GetAPIKey(ctx context.Context, id int64) (APIKey, error) {
	c, err := caller(ctx)
	if err != nil {
		return APIKey{}, err
	}
	return s.getKey(ctx, s.r, c, id)
}

func (s *Store) getKey(ctx context.Context, q queryer, c *auth.Caller, id int64) (APIKey, error) {
	k, all, err := scanKey(q.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM `+keyFrom+` WHERE k.id = $1 AND k.revoked_at IS NULL`, id))
	if err != nil {
		return k, notFound(err, "get key")
	}
	if k.UserID != c.User.ID && !superuser(c) {
		return APIKey{}, apperr.ErrNotFound
	}
	if !all {
		if k.Orgs, err = s.keyOrgs(ctx, q, k.ID); err != nil {
			return k, err
		}
	}
	return k, nil
}

// UpdateAPIKey changes a key's name and rate limit, the only fields that may change after creation.
func (s *Store) UpdateAPIKey(ctx context.Context, id int64, change func(*APIKey) error) (APIKey, error) {
	c, err := caller(ctx)
	if err != nil {
		return APIKey{}, err
	}
	var k APIKey
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		before, err := s.getKey(ctx, tx, c, id)
		if err != nil {
			return err
		}
		k = before
		if err := change(&k); err != nil {
			return err
		}
		errs := apperr.FieldErrors{}
		k.Name = strings.TrimSpace(k.Name)
		if k.Name == "" || utf8.RuneCountInString(k.Name) > 100 {
			errs.Add("name", "Give the key a name of 1 to 100 characters.")
		}
		if k.RateLimit < 1 || k.RateLimit > MaxRateLimit {
			errs.Add("rate_limit", fmt.Sprintf("Ensure this value is between 1 and %d.", MaxRateLimit))
		}
		if err := errs.Err(); err != nil {
			return err
		}
		ch := diff(map[string]any{"name": before.Name, "rate_limit": before.RateLimit}, map[string]any{"name": k.Name, "rate_limit": k.RateLimit})
		if len(ch) == 0 {
			k = before
			return nil
		}
		k.UpdatedAt = s.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET name = $1, rate_limit = $2, updated_at = $3 WHERE id = $4`,
			k.Name, k.RateLimit, k.UpdatedAt, id); err != nil {
			return err
		}
		if err := s.announceAuth(ctx, tx); err != nil {
			return err
		}
		return s.audit(ctx, tx, nil, "update", "apikey", &k.ID, k.Prefix+" "+k.Name, ch)
	})
	if err == nil {
		s.authChanged()
	}
	return k, wrap(err, "update key")
}

// RevokeAPIKey revokes a key; it stops working on the next request.
func (s *Store) RevokeAPIKey(ctx context.Context, id int64) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		k, err := s.getKey(ctx, tx, c, id)
		if err != nil {
			return err
		}
		now := s.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1, updated_at = $1 WHERE id = $2`, now, id); err != nil {
			return err
		}
		if err := s.announceAuth(ctx, tx); err != nil {
			return err
		}
		return s.audit(ctx, tx, nil, "apikey.revoke", "apikey", &k.ID, k.Prefix+" "+k.Name, nil)
	})
	if err == nil {
		s.authChanged()
	}
	return wrap(err, "revoke key")
}
