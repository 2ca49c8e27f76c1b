package auth

import (
	"context"
	"slices"
	"time"
)

// User is the part of a user account that authorization needs.
type User struct {
	ID          int64
	Email       string
	Name        string
	IsSuperuser bool
}

// Membership is a user's role in one organization.
type Membership struct {
	OrgID int64
	Perms Perms
}

// Key is the part of an API key that authorization needs.
type Key struct {
	ID        int64
	Prefix    string
	RoleCap   *Perms  // nil: no cap
	RoleName  string  // the cap's role name, "" without a cap
	Orgs      []int64 // nil: all of the user's organizations
	CanReveal bool
	RateLimit int
	ExpiresAt *time.Time
}

// Caller is who is making a request and what they may do in each organization, computed from the
// user's current memberships and the key's restrictions.
type Caller struct {
	User User
	Key  *Key // nil for a web session or the command line
	// Request metadata for the audit log.
	IP        string
	UserAgent string
	// NeedsTwoFactor marks a web session of a user who must use two-factor sign-in (their
	// organization or the installation requires it) but has not enrolled: such a session may only
	// enrol and sign out. It is never set for API keys, which two-factor does not affect.
	NeedsTwoFactor bool

	orgs     map[int64]Perms
	all      bool  // every organization (superusers without narrowing)
	allPerms Perms // the permissions in every organization when all is set
}

// NewCaller computes the effective access. A superuser reaches every organization with every
// permission; everyone else reaches their memberships. A key narrows the organizations, caps the
// permissions by its role and withholds vault.reveal unless it has can_reveal.
func NewCaller(u User, members []Membership, key *Key) *Caller {
	c := &Caller{User: u, Key: key}
	limit := AllPerms
	if key != nil {
		if key.RoleCap != nil {
			limit &= *key.RoleCap
		}
		if !key.CanReveal {
			limit &^= Perms(VaultReveal)
		}
	}
	narrowed := key != nil && key.Orgs != nil
	if u.IsSuperuser && !narrowed {
		c.all, c.allPerms = true, limit
		return c
	}
	c.orgs = make(map[int64]Perms)
	if u.IsSuperuser {
		for _, id := range key.Orgs {
			c.orgs[id] = limit
		}
		return c
	}
	for _, m := range members {
		if narrowed && !slices.Contains(key.Orgs, m.OrgID) {
			continue
		}
		c.orgs[m.OrgID] = m.Perms & limit
	}
	return c
}

// System is the caller for operator commands run on the server itself.
func System() *Caller { return Service("system") }

// Service is a caller with system powers named for the audit log, such as an integration's sync.
func Service(name string) *Caller {
	return &Caller{User: User{Email: name, IsSuperuser: true}, all: true, allPerms: AllPerms}
}

// Can is the one permission check: may the caller do p in organization org?
func (c *Caller) Can(org int64, p Perm) bool {
	return c.PermsIn(org).Has(p)
}

// PermsIn returns the caller's permissions in org (empty when unreachable).
func (c *Caller) PermsIn(org int64) Perms {
	if c.all {
		return c.allPerms
	}
	return c.orgs[org]
}

// Reaches reports whether org is visible to the caller at all.
func (c *Caller) Reaches(org int64) bool {
	if c.all {
		return true
	}
	_, ok := c.orgs[org]
	return ok
}

// AllOrgs reports whether the caller reaches every organization (superuser without narrowing).
func (c *Caller) AllOrgs() bool { return c.all }

// OrgsWith lists the organizations where the caller has p, sorted. It is meaningless when AllOrgs
// is true and the caller has p everywhere; use Scope instead.
func (c *Caller) OrgsWith(p Perm) []int64 {
	out := make([]int64, 0, len(c.orgs))
	for id, ps := range c.orgs {
		if ps.Has(p) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Scope says which organizations a query for permission p may touch: all of them, or the listed ones.
func (c *Caller) Scope(p Perm) (all bool, orgs []int64) {
	if c.all {
		return c.allPerms.Has(p), nil
	}
	return false, c.OrgsWith(p)
}

// Reachable lists the reachable organizations (nil with AllOrgs).
func (c *Caller) Reachable() []int64 {
	if c.all {
		return nil
	}
	out := make([]int64, 0, len(c.orgs))
	for id := range c.orgs {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// UnionPerms is every permission the caller holds in at least one organization.
func (c *Caller) UnionPerms() Perms {
	if c.all {
		return c.allPerms
	}
	var u Perms
	for _, p := range c.orgs {
		u |= p
	}
	return u
}

// ActorID is the user id for audit rows (nil for the system caller).
func (c *Caller) ActorID() *int64 {
	if c.User.ID == 0 {
		return nil
	}
	id := c.User.ID
	return &id
}

// KeyPrefix is the key prefix for audit rows ("" for sessions).
func (c *Caller) KeyPrefix() string {
	if c.Key == nil {
		return ""
	}
	return c.Key.Prefix
}

type callerKey struct{}

// WithCaller returns a context carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller in ctx, or nil.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// ForRequest returns a copy of c carrying one request's address and user agent; the access maps are
// shared, so a cached caller can serve many requests.
func (c *Caller) ForRequest(ip, userAgent string) *Caller {
	cc := *c
	cc.IP, cc.UserAgent = ip, userAgent
	return &cc
}
