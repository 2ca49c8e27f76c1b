package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/db"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
	"clientst0r/internal/vault"
)

// The secrets of the test entries; none may ever be found in a row, a log line or a list.
const (
	secretPassword = "Tr0ub4dor&3-horse-battery"
	secretNotes    = "Recovery codes: 1111-2222 3333-4444"
	otpSeed        = "12345678901234567890"
)

var otpSecret = base32.StdEncoding.EncodeToString([]byte(otpSeed))

type vaultWorld struct {
	e                        *testutil.Env
	acme                     store.Organization
	owner, ownerNoReveal, ro string
	other                    string
	entry                    int64
	asset                    int64
}

func newVaultWorld(t *testing.T, e *testutil.Env) *vaultWorld {
	w := &vaultWorld{e: e, acme: e.Org("Acme")}
	owner, ro, other := e.User("owner@acme.test", false), e.User("ro@acme.test", false), e.User("x@other.test", false)
	e.Member(w.acme.ID, owner.Email, "owner")
	e.Member(w.acme.ID, ro.Email, "readonly")
	e.Member(e.Org("Other").ID, other.Email, "owner")
	w.owner = e.Key(owner, store.NewKey{CanReveal: true})
	w.ownerNoReveal = e.Key(owner, store.NewKey{})
	w.ro = e.Key(ro, store.NewKey{})
	w.other = e.Key(other, store.NewKey{CanReveal: true})
	r := e.Do("POST", "/api/assets/", w.owner, map[string]any{"name": "fw01"})
	w.asset = int64(r.Map()["id"].(float64))
	r = e.Do("POST", "/api/passwords/", w.owner, map[string]any{
		"title": "Firewall admin", "username": "admin", "url": "https://fw01.acme.test", "password_type": "network_device",
		"password": secretPassword, "notes": secretNotes, "tags": []string{"network", "critical"}, "asset": w.asset,
		"otp_secret": "otpauth://totp/ACME:admin?secret=" + strings.TrimRight(otpSecret, "=") + "&digits=8&period=60&algorithm=SHA1&issuer=ACME",
	})
	if r.Status != 201 {
		t.Fatalf("create entry: %d %s", r.Status, r.Body)
	}
	w.entry = int64(r.Map()["id"].(float64))
	return w
}

func (w *vaultWorld) path(suffix string) string {
	return fmt.Sprintf("/api/passwords/%d/%s", w.entry, suffix)
}

func hotp(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	s := m.Sum(nil)
	off := s[19] & 0xf
	v := binary.BigEndian.Uint32(s[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

func TestVaultEntriesMaskRevealAndAudit(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		w := newVaultWorld(t, e)

		// Reads mask the password and never carry the TOTP secret; lists carry no notes.
		d := e.Do("GET", w.path(""), w.owner, nil).Map()
		if d["password"] != "**********" || d["has_otp"] != true || d["notes"] != secretNotes || d["otp_secret"] != nil ||
			d["breach_status"] != "unchecked" || d["asset"] != float64(w.asset) || d["is_expired"] != false {
			t.Fatalf("detail %v", d)
		}
		list := e.Do("GET", "/api/passwords/", w.owner, nil)
		if strings.Contains(string(list.Body), secretNotes) || strings.Contains(string(list.Body), secretPassword) ||
			strings.Contains(string(list.Body), `"notes"`) {
			t.Fatalf("list shows secrets: %s", list.Body)
		}

		// Reveal: with vault.reveal and can_reveal, audited with who, key, address and agent.
		r := e.Do("GET", w.path("?reveal=true"), w.owner, nil, "User-Agent", "ops-script/1.0")
		if r.Status != 200 || r.Map()["password"] != secretPassword || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("reveal: %d %s", r.Status, r.Body)
		}
		if r := e.Do("POST", w.path("reveal/"), w.owner, nil); r.Status != 200 || string(r.Body) != `{"password":"`+strings.ReplaceAll(secretPassword, "&", `\u0026`)+`"}` {
			t.Fatalf("POST reveal: %d %s", r.Status, r.Body)
		}
		var actor, prefix, ip, agent, repr string
		e.DB.R.QueryRow(`SELECT actor_email, api_key_prefix, ip_address, user_agent, object_repr FROM audit_log
			WHERE action = 'reveal' ORDER BY id LIMIT 1`).Scan(&actor, &prefix, &ip, &agent, &repr)
		if actor != "owner@acme.test" || !strings.HasPrefix(w.owner, prefix) || prefix == "" || ip != "127.0.0.1" || agent != "ops-script/1.0" || repr != "Firewall admin" {
			t.Fatalf("reveal audit: %q %q %q %q %q", actor, prefix, ip, agent, repr)
		}

		// TOTP: the RFC 6238 code of the stored secret at the server's time, audited too.
		r = e.Do("GET", w.path("otp/"), w.owner, nil)
		now := e.Clock.Now()
		want := hotp([]byte(otpSeed), uint64(now.Unix()/60), 8)
		if m := r.Map(); r.Status != 200 || m["code"] != want || m["digits"] != 8.0 || m["period"] != 60.0 || m["issuer"] != "ACME" ||
			m["time_remaining"] != float64(60-now.Unix()%60) {
			t.Fatalf("otp: %d %s (want %s)", r.Status, r.Body, want)
		}
		var audits int
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action IN ('reveal', 'otp') AND object_id = $1`, w.entry).Scan(&audits)
		if audits != 3 {
			t.Fatalf("%d reveal/otp audit rows, want 3", audits)
		}

		// Without vault.reveal, or a key without can_reveal: 403 and nothing secret in the answer.
		for who, key := range map[string]string{"readonly": w.ro, "key without can_reveal": w.ownerNoReveal} {
			for _, req := range []struct{ method, path string }{{"GET", w.path("?reveal=true")}, {"POST", w.path("reveal/")}, {"GET", w.path("otp/")}} {
				r := e.Do(req.method, req.path, key, nil)
				if r.Status != 403 || strings.Contains(string(r.Body), secretPassword) || strings.Contains(string(r.Body), "code") {
					t.Errorf("%s %s %s: %d %s", who, req.method, req.path, r.Status, r.Body)
				}
			}
		}
		// Another organization: 404 for everything.
		for _, req := range []struct{ method, path string }{{"GET", w.path("")}, {"GET", w.path("?reveal=true")}, {"POST", w.path("reveal/")}, {"GET", w.path("otp/")}} {
			if r := e.Do(req.method, req.path, w.other, nil); r.Status != 404 {
				t.Errorf("other organization %s %s: %d", req.method, req.path, r.Status)
			}
		}
		// No TOTP secret: a clear 400.
		r = e.Do("POST", "/api/passwords/", w.owner, map[string]any{"title": "no otp", "password": "x"})
		noOTP := int64(r.Map()["id"].(float64))
		if r := e.Do("GET", fmt.Sprintf("/api/passwords/%d/otp/", noOTP), w.owner, nil); r.Status != 400 || string(r.Body) != `{"detail":"This entry has no TOTP secret."}` {
			t.Fatalf("no otp: %d %s", r.Status, r.Body)
		}

		// No plaintext anywhere in the database, nor in the logs.
		for _, table := range []string{"passwords", "audit_log", "events", "webhook_deliveries", "idempotency_keys"} {
			if n := rowsContaining(t, e, table, secretPassword, secretNotes, otpSecret, strings.TrimRight(otpSecret, "=")); n > 0 {
				t.Errorf("%s holds a secret in %d rows", table, n)
			}
		}
		if logs := e.Logs.String(); strings.Contains(logs, secretPassword) || strings.Contains(logs, secretNotes) || strings.Contains(logs, strings.TrimRight(otpSecret, "=")) {
			t.Error("a secret reached the logs")
		}
	})
}

// rowsContaining scans every column of a table, as text, for any of the needles.
func rowsContaining(t *testing.T, e *testutil.Env, table string, needles ...string) int {
	t.Helper()
	rows, err := e.DB.R.Query(`SELECT * FROM ` + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		row := fmt.Sprint(vals...)
		for _, v := range vals {
			if b, ok := v.([]byte); ok {
				row += string(b)
			}
		}
		if slices.ContainsFunc(needles, func(s string) bool { return strings.Contains(row, s) }) {
			n++
		}
	}
	return n
}

func TestVaultWritesAndFilters(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		w := newVaultWorld(t, e)
		reveal := func(id int64) string {
			return e.Do("GET", fmt.Sprintf("/api/passwords/%d/?reveal=true", id), w.owner, nil).Map()["password"].(string)
		}
		// PUT back what was read: the masked password stays; the TOTP secret stays.
		got := e.Do("GET", w.path(""), w.owner, nil).Map()
		got["title"] = "Firewall admin (primary)"
		if r := e.Do("PUT", w.path(""), w.owner, got); r.Status != 200 || reveal(w.entry) != secretPassword || r.Map()["has_otp"] != true {
			t.Fatalf("put back: %d %s", r.Status, r.Body)
		}
		// A new password replaces it and resets the breach state; "" clears it.
		e.Do("PATCH", w.path(""), w.owner, map[string]any{"password": "n3w-p4ss"})
		if reveal(w.entry) != "n3w-p4ss" {
			t.Fatal("new password not stored")
		}
		r := e.Do("PATCH", w.path(""), w.owner, map[string]any{"password": "", "otp_secret": ""})
		if m := r.Map(); m["password"] != "" || m["has_otp"] != false || reveal(w.entry) != "" {
			t.Fatalf("cleared: %s", r.Body)
		}
		var audit string
		e.DB.R.QueryRow(`SELECT changes FROM audit_log WHERE object_type = 'password' AND action = 'update' ORDER BY id DESC LIMIT 1`).Scan(&audit)
		if !strings.Contains(audit, `"password":null`) || strings.Contains(audit, "n3w") {
			t.Fatalf("audit of a secret change must name the field only: %s", audit)
		}
		// Validation.
		for body, field := range map[string]string{
			`{"title": "x", "password_type": "safe"}`: "password_type", `{"title": "x", "otp_secret": "not base32!"}`: "otp_secret",
			`{"title": "x", "otp_secret": "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP"}`: "otp_secret", `{"title": ""}`: "title",
			`{"title": "x", "expires_at": "soon"}`: "expires_at", `{"title": "x", "asset": 999999}`: "asset", `{"title": "x", "asset": "fw01"}`: "asset",
		} {
			if r := e.Do("POST", "/api/passwords/", w.owner, body); r.Status != 400 || r.Map()[field] == nil {
				t.Errorf("%s: %d %s", body, r.Status, r.Body)
			}
		}
		// An asset of another organization cannot be linked.
		otherAsset := e.Do("POST", "/api/assets/", w.other, map[string]any{"name": "theirs"}).Map()["id"]
		if r := e.Do("POST", "/api/passwords/", w.owner, map[string]any{"title": "x", "asset": otherAsset}); r.Status != 400 {
			t.Errorf("cross-organization asset link: %d", r.Status)
		}

		// Filters and search (never the notes).
		soon := e.Clock.Now().Add(time.Hour).Format(time.RFC3339)
		for _, b := range []map[string]any{
			{"title": "Wi-Fi guest", "password_type": "wifi", "password": "guest123", "tags": []string{"network"}},
			{"title": "Domain admin", "username": "ACME\\\\administrator", "password_type": "windows_ad", "expires_at": soon, "notes": "rotate quarterly"},
		} {
			if r := e.Do("POST", "/api/passwords/", w.owner, b); r.Status != 201 {
				t.Fatalf("create: %s", r.Body)
			}
		}
		titles := func(q string) []string {
			r := e.Do("GET", "/api/passwords/?ordering=title&"+q, w.owner, nil)
			var out []string
			for _, x := range r.Map()["results"].([]any) {
				out = append(out, x.(map[string]any)["title"].(string))
			}
			return out
		}
		cases := map[string][]string{
			"password_type=wifi":      {"Wi-Fi guest"},
			"tag=network":             {"Firewall admin (primary)", "Wi-Fi guest"},
			"has_otp=false&search=fi": {"Firewall admin (primary)", "Wi-Fi guest"},
			"search=administrator":    {"Domain admin"},
			"search=quarterly":        nil,
			"search=fw01.acme":        {"Firewall admin (primary)"},
			"expired=false&search=d":  {"Domain admin", "Firewall admin (primary)"},
			"breach_status=unchecked&password_type=windows_ad": {"Domain admin"},
			fmt.Sprintf("asset=%d", w.asset):                   {"Firewall admin (primary)"},
		}
		for q, want := range cases {
			if got := titles(q); !slices.Equal(got, want) {
				t.Errorf("?%s: %v, want %v", q, got, want)
			}
		}
		e.Clock.Advance(2 * time.Hour)
		if got := titles("expired=true"); !slices.Equal(got, []string{"Domain admin"}) {
			t.Errorf("expired=true: %v", got)
		}
		if r := e.Do("GET", "/api/passwords/?search="+url.QueryEscape("Domain"), w.owner, nil); r.Map()["results"].([]any)[0].(map[string]any)["is_expired"] != true {
			t.Error("is_expired not set")
		}
		if r := e.Do("GET", "/api/passwords/?expired=maybe", w.owner, nil); r.Status != 400 {
			t.Errorf("bad expired filter: %d", r.Status)
		}
	})
}

// A ciphertext copied to another entry or organization does not decrypt there, and key rotation
// re-encrypts everything while every entry stays readable.
func TestVaultCiphertextsAreBoundAndRotate(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		w := newVaultWorld(t, e)
		ctx := context.Background()
		second := e.Do("POST", "/api/passwords/", w.owner, map[string]any{"title": "second", "password": "second-secret"})
		secondID := int64(second.Map()["id"].(float64))
		theirs := e.Do("POST", "/api/passwords/", w.other, map[string]any{"title": "theirs", "password": "their-secret"})
		theirID := int64(theirs.Map()["id"].(float64))

		ownerCtx := authAs(t, e, w.owner)
		otherCtx := authAs(t, e, w.other)
		if _, pw, err := e.Store.RevealPassword(ownerCtx, secondID); err != nil || pw != "second-secret" {
			t.Fatalf("reveal before the copy: %q %v", pw, err)
		}
		e.DB.W.Exec(`UPDATE passwords SET password_ct = (SELECT password_ct FROM passwords WHERE id = $1) WHERE id = $2`, w.entry, secondID)
		e.DB.W.Exec(`UPDATE passwords SET password_ct = (SELECT password_ct FROM passwords WHERE id = $1) WHERE id = $2`, w.entry, theirID)
		if _, pw, err := e.Store.RevealPassword(ownerCtx, secondID); err == nil || pw != "" {
			t.Fatalf("a ciphertext moved to another row decrypted: %q", pw)
		}
		if _, pw, err := e.Store.RevealPassword(otherCtx, theirID); err == nil || pw != "" {
			t.Fatalf("a ciphertext moved to another organization decrypted: %q", pw)
		}
		e.DB.W.Exec(`DELETE FROM passwords WHERE id IN ($1, $2)`, secondID, theirID)

		// Rotation.
		for i := range 20 {
			e.Do("POST", "/api/passwords/", w.owner, map[string]any{"title": fmt.Sprintf("entry %d", i), "password": fmt.Sprintf("pw-%d", i), "notes": "n"})
		}
		hook := e.Do("POST", "/api/webhooks/", w.owner, map[string]any{"name": "h", "url": "https://h.example", "events": []string{"vault.breach"}})
		if hook.Status != 201 {
			t.Fatal(hook.Body)
		}
		integ := e.Do("POST", "/api/integrations/", w.owner, map[string]any{"name": "RMM", "provider": "ninjaone",
			"base_url": "https://app.ninjarmm.com", "credentials": map[string]string{"client_id": "id", "client_secret": "secret"}})
		if integ.Status != 201 {
			t.Fatal(integ.Body)
		}
		id, err := e.Store.RotateKey(e.Sys)
		if err != nil || id != 2 {
			t.Fatalf("rotate: %d %v", id, err)
		}
		e.Do("POST", "/api/passwords/", w.owner, map[string]any{"title": "after rotation", "password": "pw-new"})
		if keys := keyIDs(t, e); keys[1] == 0 || keys[2] == 0 {
			t.Fatalf("before re-encryption both keys are in use: %v", keys)
		}
		for i := range 20 { // everything stays readable while old and new keys coexist
			r := e.Do("GET", "/api/passwords/?page_size=200&search="+url.QueryEscape(fmt.Sprintf("entry %d", i)), w.owner, nil)
			var id int64
			for _, x := range r.Map()["results"].([]any) {
				if m := x.(map[string]any); m["title"] == fmt.Sprintf("entry %d", i) {
					id = int64(m["id"].(float64))
				}
			}
			if _, pw, err := e.Store.RevealPassword(ownerCtx, id); err != nil || pw != fmt.Sprintf("pw-%d", i) {
				t.Fatalf("entry %d during rotation: %q %v", i, pw, err)
			}
		}
		n, err := e.Store.Reencrypt(ctx, 7)
		if err != nil || n < 40 {
			t.Fatalf("re-encrypt: %d %v", n, err)
		}
		if keys := keyIDs(t, e); len(keys) != 1 || keys[2] == 0 {
			t.Fatalf("after re-encryption: %v", keys)
		}
		if _, pw, err := e.Store.RevealPassword(ownerCtx, w.entry); err != nil || pw != secretPassword {
			t.Fatalf("after re-encryption: %q %v", pw, err)
		}
		if d := e.Do("GET", w.path(""), w.owner, nil).Map(); d["notes"] != secretNotes {
			t.Fatalf("notes after re-encryption: %v", d["notes"])
		}
		if n, err := e.Store.Reencrypt(ctx, 7); err != nil || n != 0 {
			t.Fatalf("a second pass re-encrypted %d (%v)", n, err)
		}
	})
}

// keyIDs counts ciphertexts per data key across every binary column of the schema (the vault's
// own wrapped keys aside), so a sealed column the rotation forgets cannot hide from the count.
func keyIDs(t *testing.T, e *testutil.Env) map[uint32]int {
	t.Helper()
	// Left out: the wrapped keys themselves, River's job data, SQLite's full-text index blocks.
	schema := `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()
		AND data_type = 'bytea' AND table_name <> 'vault_keys' AND table_name NOT LIKE 'river%'`
	if e.DB.Dialect == db.SQLite {
		schema = `SELECT m.name, c.name FROM sqlite_master m, pragma_table_xinfo(m.name) c WHERE m.type = 'table' AND c.type = 'BLOB'
			AND m.name <> 'vault_keys' AND m.name NOT LIKE 'river%' AND m.name NOT LIKE '%_fts_%'`
	}
	rows, err := e.DB.R.Query(schema)
	if err != nil {
		t.Fatal(err)
	}
	var columns [][2]string
	for rows.Next() {
		var c [2]string
		rows.Scan(&c[0], &c[1])
		columns = append(columns, c)
	}
	rows.Close()
	if len(columns) < 6 {
		t.Fatalf("sealed columns found: %v", columns)
	}
	out := map[uint32]int{}
	for _, c := range columns {
		rows, err := e.DB.R.Query(`SELECT ` + c[1] + ` FROM ` + c[0])
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var ct []byte
			rows.Scan(&ct)
			if ct != nil {
				out[vault.KeyID(ct)]++
			}
		}
		rows.Close()
	}
	return out
}
