package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"clientst0r/internal/app"
	"clientst0r/internal/auth"
	"clientst0r/internal/config"
	"clientst0r/internal/db"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
	"clientst0r/internal/vault"
)

// Several nodes on one PostgreSQL database: each test opens two installations on the same database
// with app.Open, as two processes behind a load balancer would, and talks to each over HTTP.

var sys = auth.WithCaller(context.Background(), auth.System())

type node struct {
	*app.App
	url string
}

func openNode(t *testing.T, dbURL string) *node {
	t.Helper()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DatabaseURL: dbURL, Dialect: db.Postgres, MasterKey: testutil.MasterKey}
	a, err := app.Open(context.Background(), cfg, testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &node{App: a, url: srv.URL}
}

// twoNodes opens two nodes on a fresh PostgreSQL database and waits until both listen.
func twoNodes(t *testing.T) (*node, *node) {
	t.Helper()
	u := testutil.NewDBURL(t, db.Postgres)
	a, b := openNode(t, u), openNode(t, u)
	for _, n := range []*node{a, b} {
		if n.Notifier == nil {
			t.Fatal("no notifier on PostgreSQL")
		}
		eventually(t, "node listening", func() bool { return n.Notifier.Fresh() })
	}
	return a, b
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
}

func (n *node) do(t *testing.T, method, path, key string, body any) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	r := resp{status: res.StatusCode, header: res.Header}
	json.NewDecoder(res.Body).Decode(&r.body)
	if r.status >= 500 {
		t.Fatalf("%s %s: %d %v", method, path, r.status, r.body)
	}
	return r
}

// eventually polls cond until it holds; the deadline is generous, as no speed is asserted.
func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	return waitFor(t, what, 10*time.Second, cond)
}

// member creates a user who is an editor in the organizations, and a key of theirs.
func member(t *testing.T, n *node, email string, key store.NewKey, orgs ...store.Organization) string {
	t.Helper()
	u, err := n.Store.CreateUser(sys, store.User{Email: email}, testutil.Password)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orgs {
		if _, err := n.Store.AddMember(sys, o.ID, email, "editor"); err != nil {
			t.Fatal(err)
		}
	}
	key.UserID, key.Name = u.ID, "script"
	_, plaintext, err := n.Store.CreateAPIKey(sys, key)
	if err != nil {
		t.Fatal(err)
	}
	return plaintext
}

func org(t *testing.T, n *node, name string) store.Organization {
	t.Helper()
	o, err := n.Store.CreateOrganization(sys, store.Organization{Name: name, IsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// A key's limit counts requests on every node: the 61st request of a minute is refused whichever
// node serves it.
func TestRateLimitHoldsAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	key := member(t, a, "script@example.com", store.NewKey{RateLimit: 60}, org(t, a, "Acme"))
	// Windows are clock minutes: keep the run inside one.
	if now := time.Now(); now.Second() >= 50 {
		time.Sleep(time.Until(now.Truncate(time.Minute).Add(time.Minute + 50*time.Millisecond)))
	}
	started := time.Now()
	nodes := []*node{a, b}
	for i := 1; i <= 60; i++ {
		r := nodes[i%2].do(t, "GET", "/api/organizations/", key, nil)
		if r.status != 200 || r.header.Get("RateLimit-Remaining") != strconv.Itoa(60-i) {
			t.Fatalf("request %d: %d remaining=%q", i, r.status, r.header.Get("RateLimit-Remaining"))
		}
	}
	for name, n := range map[string]*node{"A": a, "B": b} {
		r := n.do(t, "GET", "/api/organizations/", key, nil)
		if r.status != 429 || r.header.Get("Retry-After") == "" || r.header.Get("RateLimit-Remaining") != "0" {
			t.Errorf("61st request on node %s: %d Retry-After=%q %v", name, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	if started.Truncate(time.Minute) != time.Now().Truncate(time.Minute) {
		t.Fatal("the run crossed a minute; the windows above are not one")
	}
}

// A key revoked through one node stops working on the other.
func TestRevokedKeyRefusedByOtherNode(t *testing.T) {
	a, b := twoNodes(t)
	key := member(t, a, "script@example.com", store.NewKey{RateLimit: store.MaxRateLimit}, org(t, a, "Acme"))
	r := b.do(t, "GET", "/api/keys/", key, nil) // node B caches the caller
	if r.status != 200 {
		t.Fatalf("before: %d %v", r.status, r.body)
	}
	id := int64(r.body["results"].([]any)[0].(map[string]any)["id"].(float64))
	if r := b.do(t, "GET", "/api/organizations/", key, nil); r.status != 200 {
		t.Fatalf("before, again: %d", r.status)
	}
	if r := a.do(t, "DELETE", fmt.Sprintf("/api/keys/%d/", id), key, nil); r.status != 204 {
		t.Fatalf("revoke on node A: %d %v", r.status, r.body)
	}
	took := eventually(t, "node B refuses the revoked key", func() bool {
		return b.do(t, "GET", "/api/organizations/", key, nil).status == 401
	})
	t.Logf("node B refused the key %v after the revocation on node A", took)
}

// A membership removed through one node is gone on the other.
func TestRemovedMembershipGoneOnOtherNode(t *testing.T) {
	a, b := twoNodes(t)
	acme, globex := org(t, a, "Acme"), org(t, a, "Globex")
	key := member(t, a, "script@example.com", store.NewKey{RateLimit: store.MaxRateLimit}, acme, globex)
	path := fmt.Sprintf("/api/organizations/%d/", globex.ID)
	if r := b.do(t, "GET", path, key, nil); r.status != 200 {
		t.Fatalf("before: %d %v", r.status, r.body)
	}
	if err := a.Store.RemoveMember(sys, globex.ID, "script@example.com"); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, "node B hides the organization", func() bool { return b.do(t, "GET", path, key, nil).status == 404 })
	t.Logf("node B dropped the membership %v after its removal on node A", took)
	if r := b.do(t, "GET", fmt.Sprintf("/api/organizations/%d/", acme.ID), key, nil); r.status != 200 {
		t.Fatalf("the other membership: %d", r.status)
	}
}

// After a key rotation on one node, the other seals new secrets with the new data key.
func TestKeyRotationReachesOtherNode(t *testing.T) {
	a, b := twoNodes(t)
	key := member(t, a, "script@example.com", store.NewKey{RateLimit: store.MaxRateLimit}, org(t, a, "Acme"))
	sealedWith := func() uint32 {
		r := b.do(t, "POST", "/api/passwords/", key, map[string]any{"title": "router", "password": "s3cret!"})
		if r.status != 201 {
			t.Fatalf("create on node B: %d %v", r.status, r.body)
		}
		var ct []byte
		if err := b.DB.R.QueryRow(`SELECT password_ct FROM passwords WHERE id = $1`, int64(r.body["id"].(float64))).Scan(&ct); err != nil {
			t.Fatal(err)
		}
		return vault.KeyID(ct)
	}
	before := sealedWith()
	id, err := a.Store.RotateKey(sys)
	if err != nil {
		t.Fatal(err)
	}
	if id == before {
		t.Fatalf("rotation kept key %d", id)
	}
	took := eventually(t, "node B seals with the new key", func() bool { return sealedWith() == id })
	t.Logf("node B sealed with data key %d (was %d) %v after the rotation on node A", id, before, took)
}

// A list's cached count follows rows added through another node (before the count's TTL).
func TestCountsFollowOtherNode(t *testing.T) {
	a, b := twoNodes(t)
	key := member(t, a, "script@example.com", store.NewKey{RateLimit: store.MaxRateLimit}, org(t, a, "Acme"))
	count := func() float64 { return b.do(t, "GET", "/api/assets/", key, nil).body["count"].(float64) }
	if n := count(); n != 0 {
		t.Fatalf("count %v", n)
	}
	if r := a.do(t, "POST", "/api/assets/", key, map[string]any{"name": "fw01"}); r.status != 201 {
		t.Fatalf("create on node A: %d %v", r.status, r.body)
	}
	start := time.Now()
	for count() != 1 {
		if time.Since(start) > 3*time.Second { // cached counts expire after 5 s without notice
			t.Fatal("node B still counts no asset")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
