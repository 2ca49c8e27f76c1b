package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
)

// Errors for bad credentials, with SPEC §3's wording.
var (
	ErrInvalidKey     = &apperr.Error{Kind: apperr.Unauthorized, Detail: "Invalid API key."}
	ErrInvalidSession = &apperr.Error{Kind: apperr.Unauthorized, Detail: "Invalid session."}
)

// cachedCaller is a caller built at some auth generation, with what must still be checked on every
// use: the key's expiry and the session's.
type cachedCaller struct {
	caller  *auth.Caller
	gen     uint64
	expires *time.Time
	// Sessions only: when it was last used and its absolute end (see sessionEnd).
	lastSeen, absolute time.Time
}

// callerCache is bounded: when it is full it starts again empty, which costs a few reloads.
type callerCache struct {
	mu sync.Mutex
	m  map[string]cachedCaller
}

const callerCacheSize = 10000

func (cc *callerCache) get(digest string) (cachedCaller, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	c, ok := cc.m[digest]
	return c, ok
}

func (cc *callerCache) put(digest string, c cachedCaller) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.m == nil || len(cc.m) >= callerCacheSize {
		cc.m = make(map[string]cachedCaller)
	}
	cc.m[digest] = c
}

// authChanged invalidates every cached caller; called after any change to users, memberships,
// roles, keys or sessions (whose transaction also calls announceAuth, for the other nodes).
func (s *Store) authChanged() { s.authGen.Add(1) }

// cachedCall returns the cached caller for digest if it is current and unexpired, else loads it.
func (s *Store) cachedCall(ctx context.Context, digest string, invalid error, load func(context.Context, string) (cachedCaller, error)) (*auth.Caller, error) {
	gen := s.authGen.Load()
	now := s.now()
	if c, ok := s.callerCache.get(digest); ok && c.gen == gen && s.cacheTrusted() {
		if c.expires != nil && !now.Before(*c.expires) {
			return nil, invalid
		}
		return c.caller, nil
	}
	c, err := load(ctx, digest)
	if err != nil {
		return nil, err
	}
	if c.expires != nil && !now.Before(*c.expires) {
		return nil, invalid
	}
	c.gen = gen
	s.callerCache.put(digest, c)
	return c.caller, nil
}

// CallerForKey authenticates a plaintext API key. The result reflects the user's memberships, the
// key's restrictions and its revocation and expiry as of this call.
func (s *Store) CallerForKey(ctx context.Context, plaintext string) (*auth.Caller, error) {
	return s.cachedCall(ctx, s.secrets.Digest(plaintext), ErrInvalidKey, s.loadKeyCaller)
}

func (s *Store) loadKeyCaller(ctx context.Context, digest string) (cachedCaller, error) {
	var (
		k                       auth.Key
		u                       auth.User
		roleName, rolePermsJSON sql.NullString
		roleBuiltin             sql.NullBool
		allOrgs, active         bool
		expires, revoked        sql.NullTime
	)
	err := s.r.QueryRowContext(ctx, `SELECT k.id, k.prefix, r.name, r.permissions, r.builtin, k.all_organizations,
		k.can_reveal, k.rate_limit, k.expires_at, k.revoked_at, u.id, u.email, u.name, u.is_superuser, u.is_active
		FROM api_keys k JOIN users u ON u.id = k.user_id LEFT JOIN roles r ON r.id = k.role_id
		WHERE k.digest = $1`, digest).Scan(&k.ID, &k.Prefix, &roleName, &rolePermsJSON, &roleBuiltin, &allOrgs,
		&k.CanReveal, &k.RateLimit, &expires, &revoked, &u.ID, &u.Email, &u.Name, &u.IsSuperuser, &active)
	if errors.Is(err, sql.ErrNoRows) {
		return cachedCaller{}, ErrInvalidKey
	} else if err != nil {
		return cachedCaller{}, wrap(err, "load key")
	}
	if revoked.Valid || !active {
		return cachedCaller{}, ErrInvalidKey
	}
	if roleName.Valid {
		p, err := rolePerms(roleName.String, roleBuiltin.Bool, rolePermsJSON.String)
		if err != nil {
			return cachedCaller{}, err
		}
		k.RoleCap, k.RoleName = &p, roleName.String
	}
	k.ExpiresAt = timePtr(expires)
	if !allOrgs {
		if k.Orgs, err = s.keyOrgs(ctx, s.r, k.ID); err != nil {
			return cachedCaller{}, err
		}
	}
	members, err := s.memberships(ctx, u.ID)
	if err != nil {
		return cachedCaller{}, err
	}
	return cachedCaller{caller: auth.NewCaller(u, members, &k), expires: k.ExpiresAt}, nil
}

func (s *Store) keyOrgs(ctx context.Context, q queryer, keyID int64) ([]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT organization_id FROM api_key_organizations WHERE api_key_id = $1 ORDER BY organization_id`, keyID)
	if err != nil {
		return nil, wrap(err, "key organizations")
	}
	defer rows.Close()
	orgs := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, wrap(err, "key organizations")
		}
		orgs = append(orgs, id)
	}
	return orgs, wrap(rows.Err(), "key organizations")
}

func (s *Store) memberships(ctx context.Context, userID int64) ([]auth.Membership, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT m.organization_id, r.name, r.permissions, r.builtin
		FROM memberships m JOIN roles r ON r.id = m.role_id WHERE m.user_id = $1`, userID)
	if err != nil {
		return nil, wrap(err, "memberships")
	}
	defer rows.Close()
	var out []auth.Membership
	for rows.Next() {
		var (
			m           auth.Membership
			name, perms string
			builtin     bool
		)
		if err := rows.Scan(&m.OrgID, &name, &perms, &builtin); err != nil {
			return nil, wrap(err, "memberships")
		}
		if m.Perms, err = rolePerms(name, builtin, perms); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, wrap(rows.Err(), "memberships")
}

// userCaller builds the access a user has through their memberships, with no key restrictions.
func (s *Store) userCaller(ctx context.Context, u User) (*auth.Caller, error) {
	members, err := s.memberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return auth.NewCaller(auth.User{ID: u.ID, Email: u.Email, Name: u.Name, IsSuperuser: u.IsSuperuser}, members, nil), nil
}

// keyTouchInterval bounds last_used_* writes to one per key per interval.
const keyTouchInterval = time.Minute

// TouchKey records a key's use, at most once a minute per key, so authentication is not a write
// per request.
func (s *Store) TouchKey(ctx context.Context, keyID int64, ip string) error {
	now := s.now()
	if last, ok := s.touched.Load(keyID); ok && now.Sub(last.(time.Time)) < keyTouchInterval {
		return nil
	}
	s.touched.Store(keyID, now)
	_, err := s.db.W.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1, last_used_ip = $2 WHERE id = $3`, s.Now(), ip, keyID)
	return wrap(err, "touch key")
}
