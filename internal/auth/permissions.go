// Package auth holds who a caller is and what they may do: permissions and roles, the caller built
// from a user's memberships and an API key, password hashing, key and session tokens, rate limits,
// and the request authentication that ties them together.
package auth

import (
	"fmt"
	"math/bits"
	"slices"
)

// Perm is one permission; Perms is a set of them.
type Perm uint64

// Perms is a set of permissions, one bit each.
type Perms uint64

const (
	AssetsView Perm = 1 << iota
	AssetsCreate
	AssetsEdit
	AssetsDelete
	VaultView
	VaultCreate
	VaultEdit
	VaultDelete
	VaultReveal
	VehiclesView
	VehiclesCreate
	VehiclesEdit
	VehiclesDelete
	MonitorsView
	MonitorsCreate
	MonitorsEdit
	MonitorsDelete
	WebhooksView
	WebhooksManage
	IntegrationsView
	IntegrationsManage
	IntegrationsSync
	VulnerabilitiesView
	VulnerabilitiesManage
	AuditView
	MembersManage
	OrgSettings
	permEnd
)

// AllPerms holds every permission.
const AllPerms = Perms(permEnd - 1)

var permNames = map[Perm]string{
	AssetsView: "assets.view", AssetsCreate: "assets.create", AssetsEdit: "assets.edit", AssetsDelete: "assets.delete",
	VaultView: "vault.view", VaultCreate: "vault.create", VaultEdit: "vault.edit", VaultDelete: "vault.delete",
	VaultReveal:  "vault.reveal",
	VehiclesView: "vehicles.view", VehiclesCreate: "vehicles.create", VehiclesEdit: "vehicles.edit", VehiclesDelete: "vehicles.delete",
	MonitorsView: "monitors.view", MonitorsCreate: "monitors.create", MonitorsEdit: "monitors.edit", MonitorsDelete: "monitors.delete",
	WebhooksView: "webhooks.view", WebhooksManage: "webhooks.manage",
	IntegrationsView: "integrations.view", IntegrationsManage: "integrations.manage", IntegrationsSync: "integrations.sync",
	VulnerabilitiesView: "vulnerabilities.view", VulnerabilitiesManage: "vulnerabilities.manage",
	AuditView: "audit.view", MembersManage: "members.manage", OrgSettings: "org.settings",
}

var permByName = func() map[string]Perm {
	m := make(map[string]Perm, len(permNames))
	for p, n := range permNames {
		m[n] = p
	}
	return m
}()

func (p Perm) String() string { return permNames[p] }

// Of builds a set.
func Of(ps ...Perm) Perms {
	var s Perms
	for _, p := range ps {
		s |= Perms(p)
	}
	return s
}

// Has reports whether the set holds p.
func (s Perms) Has(p Perm) bool { return s&Perms(p) != 0 }

// Names lists the set's permission names in a stable order.
func (s Perms) Names() []string {
	out := make([]string, 0, bits.OnesCount64(uint64(s)))
	for p := Perm(1); p < permEnd; p <<= 1 {
		if s.Has(p) {
			out = append(out, p.String())
		}
	}
	return out
}

// AllPermNames lists every permission name in a stable order.
func AllPermNames() []string { return AllPerms.Names() }

// ParsePerms turns names into a set; an unknown name is an error that names it.
func ParsePerms(names []string) (Perms, error) {
	var s Perms
	for _, n := range names {
		p, ok := permByName[n]
		if !ok {
			return 0, fmt.Errorf("unknown permission %q", n)
		}
		s |= Perms(p)
	}
	return s, nil
}

var (
	viewAll = Of(AssetsView, VaultView, VehiclesView, MonitorsView, WebhooksView, IntegrationsView, VulnerabilitiesView)
	editAll = Of(AssetsCreate, AssetsEdit, VaultCreate, VaultEdit, VehiclesCreate, VehiclesEdit, MonitorsCreate, MonitorsEdit)
	delAll  = Of(AssetsDelete, VaultDelete, VehiclesDelete, MonitorsDelete)
	manage  = Of(WebhooksManage, IntegrationsManage, IntegrationsSync, VulnerabilitiesManage)
)

// The built-in roles of SPEC §2.
var builtinRoles = []Role{
	{Name: "owner", Builtin: true, Perms: AllPerms},
	{Name: "admin", Builtin: true, Perms: viewAll | editAll | delAll | Of(VaultReveal) | manage | Of(AuditView)},
	{Name: "editor", Builtin: true, Perms: viewAll | editAll | Of(VaultReveal)},
	{Name: "readonly", Builtin: true, Perms: viewAll},
}

// Role is a named permission set: one of the built-ins or a custom role.
type Role struct {
	ID          int64
	Name        string
	Description string
	Perms       Perms
	Builtin     bool
}

// BuiltinRole returns the built-in role of that name.
func BuiltinRole(name string) (Role, bool) {
	i := slices.IndexFunc(builtinRoles, func(r Role) bool { return r.Name == name })
	if i < 0 {
		return Role{}, false
	}
	return builtinRoles[i], true
}

// BuiltinRoleNames lists the built-in roles from most to least powerful.
func BuiltinRoleNames() []string {
	out := make([]string, len(builtinRoles))
	for i, r := range builtinRoles {
		out[i] = r.Name
	}
	return out
}
