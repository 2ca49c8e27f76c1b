package auth

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBuiltinRolesMatchSpec(t *testing.T) {
	cases := []struct {
		perm  Perm
		roles string // roles that hold it, in SPEC §2's table order
	}{
		{AssetsView, "owner admin editor readonly"},
		{VulnerabilitiesView, "owner admin editor readonly"},
		{AssetsCreate, "owner admin editor"},
		{MonitorsEdit, "owner admin editor"},
		{VaultDelete, "owner admin"},
		{VaultReveal, "owner admin editor"},
		{WebhooksManage, "owner admin"},
		{IntegrationsSync, "owner admin"},
		{AuditView, "owner admin"},
		{MembersManage, "owner"},
		{OrgSettings, "owner"},
	}
	for _, c := range cases {
		var got []string
		for _, n := range BuiltinRoleNames() {
			r, _ := BuiltinRole(n)
			if r.Perms.Has(c.perm) {
				got = append(got, n)
			}
		}
		if strings.Join(got, " ") != c.roles {
			t.Errorf("%s: held by %v, want %s", c.perm, got, c.roles)
		}
	}
}

func TestParsePermsRoundTrip(t *testing.T) {
	p, err := ParsePerms(AllPermNames())
	if err != nil || p != AllPerms {
		t.Fatalf("all names: %v %v", p, err)
	}
	if _, err := ParsePerms([]string{"assets.view", "assets.fly"}); err == nil || !strings.Contains(err.Error(), "assets.fly") {
		t.Fatalf("unknown permission: %v", err)
	}
}

func TestCallerKeyNarrowsAndCaps(t *testing.T) {
	owner, _ := BuiltinRole("owner")
	readonly, _ := BuiltinRole("readonly")
	editor, _ := BuiltinRole("editor")
	u := User{ID: 1}
	members := []Membership{{OrgID: 10, Perms: owner.Perms}, {OrgID: 20, Perms: readonly.Perms}}

	c := NewCaller(u, members, nil)
	if !c.Can(10, AssetsDelete) || c.Can(20, AssetsCreate) || c.Reaches(30) || !c.Can(10, VaultReveal) {
		t.Fatal("session caller must have exactly the membership roles")
	}

	capped := editor.Perms
	k := NewCaller(u, members, &Key{RoleCap: &capped, Orgs: []int64{10, 30}, CanReveal: false})
	if k.Can(10, AssetsDelete) || !k.Can(10, AssetsEdit) {
		t.Fatal("role cap not applied")
	}
	if k.Reaches(20) || k.Reaches(30) {
		t.Fatal("narrowing must keep only memberships in the list")
	}
	if k.Can(10, VaultReveal) {
		t.Fatal("vault.reveal needs can_reveal on a key")
	}
	if got := k.Reachable(); !slices.Equal(got, []int64{10}) {
		t.Fatalf("reachable %v", got)
	}

	su := NewCaller(User{ID: 2, IsSuperuser: true}, nil, &Key{RoleCap: &readonly.Perms, CanReveal: true})
	if !su.AllOrgs() || !su.Can(999, AssetsView) || su.Can(999, AssetsCreate) {
		t.Fatal("superuser key must reach everything, capped")
	}
	if all, _ := su.Scope(AssetsCreate); all {
		t.Fatal("a capped superuser key has no create scope")
	}
	sun := NewCaller(User{ID: 2, IsSuperuser: true}, nil, &Key{Orgs: []int64{5}, CanReveal: true})
	if sun.AllOrgs() || !sun.Can(5, VaultReveal) || sun.Reaches(6) {
		t.Fatal("narrowed superuser key")
	}
}

func TestPasswordHashing(t *testing.T) {
	ctx := context.Background()
	h, err := HashPassword(ctx, "correct horse battery")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q %v", h, err)
	}
	if ok, err := VerifyPassword(ctx, h, "correct horse battery"); !ok || err != nil {
		t.Fatalf("verify right password: %v %v", ok, err)
	}
	if ok, _ := VerifyPassword(ctx, h, "correct horse batterx"); ok {
		t.Fatal("wrong password accepted")
	}
	if ok, err := VerifyPassword(ctx, "", "anything at all"); ok || err != nil {
		t.Fatalf("no hash must not match and must not error: %v %v", ok, err)
	}
	if _, err := HashPassword(ctx, "short"); err == nil {
		t.Fatal("short password accepted")
	}
}

func TestAPIKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		k, prefix := NewAPIKey()
		if !strings.HasPrefix(k, "itdocs_live_") || len(k) != len("itdocs_live_")+43 || !LooksLikeAPIKey(k) {
			t.Fatalf("bad key %q", k)
		}
		if !strings.HasPrefix(k, prefix) || len(prefix) != len("itdocs_live_")+8 {
			t.Fatalf("bad prefix %q of %q", prefix, k)
		}
		if seen[k] {
			t.Fatal("duplicate key")
		}
		seen[k] = true
	}
	for _, bad := range []string{"", "itdocs_live_", "itdocs_live_short", "itdocs_test_" + strings.Repeat("a", 43), "itdocs_live_" + strings.Repeat("a", 42) + "!"} {
		if LooksLikeAPIKey(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	s := DeriveSecrets([]byte("0123456789abcdef0123456789abcdef"))
	if s.Digest("a") == s.Digest("b") || s.Digest("a") != s.Digest("a") || len(s.Digest("a")) != 64 {
		t.Fatal("digest")
	}
	if DeriveSecrets([]byte("another master key, 32 bytes...!")).Digest("a") == s.Digest("a") {
		t.Fatal("digest must depend on the master key")
	}
}

func TestLimiterWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter(time.Minute, 10, func() time.Time { return now })
	take := func(key string) Decision {
		d, err := l.Take(context.Background(), key, 60)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for i := range 60 {
		d := take("k1")
		if !d.Allowed || d.Remaining != 59-i {
			t.Fatalf("request %d: %+v", i+1, d)
		}
		now = now.Add(100 * time.Millisecond)
	}
	d := take("k1")
	if d.Allowed || d.Reset != 54*time.Second || Seconds(d.Reset) != 54 {
		t.Fatalf("61st: %+v", d)
	}
	if d := take("k2"); !d.Allowed || d.Remaining != 59 {
		t.Fatalf("another key must be unaffected: %+v", d)
	}
	now = now.Add(54 * time.Second)
	if d := take("k1"); !d.Allowed || d.Remaining != 59 {
		t.Fatalf("after the window: %+v", d)
	}
	if d, _ := l.Peek(context.Background(), "k1", 60); d.Remaining != 59 {
		t.Fatalf("peek must not count: %+v", d)
	}
}

func TestLimiterBoundedMemory(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter(time.Minute, 100, func() time.Time { return now })
	for i := range 1000 {
		l.Take(context.Background(), string(rune('a'+i%26))+time.Duration(i).String(), 5)
	}
	if len(l.windows) > 100 {
		t.Fatalf("%d windows kept, limit 100", len(l.windows))
	}
	now = now.Add(2 * time.Minute)
	l.Take(context.Background(), "fresh", 5)
	if len(l.windows) != 1 {
		t.Fatalf("expired windows not swept: %d left", len(l.windows))
	}
}
