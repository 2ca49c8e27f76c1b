package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/db"
	"clientst0r/internal/testutil"
	"clientst0r/internal/vuln/nvdtest"
)

// cli runs commands against one installation, the way an operator would.
type cli struct {
	t   *testing.T
	env map[string]string
}

func newCLI(t *testing.T, dialect db.Dialect) *cli {
	dir := t.TempDir()
	env := map[string]string{"CLIENTST0R_DATA_DIR": dir}
	if dialect == db.Postgres {
		env["CLIENTST0R_DATABASE_URL"] = testutil.NewDBURL(t, db.Postgres)
		env["CLIENTST0R_MASTER_KEY"] = base64.StdEncoding.EncodeToString(testutil.MasterKey)
	}
	return &cli{t: t, env: env}
}

func (c *cli) run(stdin string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return c.env[k] }, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("clientst0r %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return strings.TrimSpace(out)
}

func TestOperatorCommands(t *testing.T) {
	for _, dialect := range testutil.Dialects() {
		t.Run(string(dialect), func(t *testing.T) {
			c := newCLI(t, dialect)
			c.ok("", "migrate")
			c.ok("a long enough password\n", "user", "create", "--email", "Owner@Example.com", "--name", "Olivia Owner", "--superuser", "--password-stdin")
			c.ok("another long password\n", "user", "create", "--email", "tech@example.com", "--password-stdin")
			orgID := c.ok("", "org", "create", "--name", "Acme Corp")
			c.ok("", "org", "create", "--name", "Bravo", "--slug", "bravo")
			c.ok("", "member", "add", "--org", "acme-corp", "--email", "owner@example.com", "--role", "owner")
			c.ok("", "member", "add", "--org", orgID, "--email", "tech@example.com", "--role", "readonly")
			c.ok("", "role", "create", "--name", "auditor", "--permissions", "audit.view,assets.view")
			c.ok("", "member", "add", "--org", "bravo", "--email", "tech@example.com", "--role", "auditor")
			key := c.ok("", "apikey", "create", "--email", "tech@example.com", "--name", "script", "--org", "acme-corp", "--org", "bravo",
				"--rate-limit", "120/min", "--expires", "90d")
			if !regexp.MustCompile(`^itdocs_live_[0-9A-Za-z]{43}$`).MatchString(key) {
				t.Fatalf("key %q", key)
			}
			if out := c.ok("", "vault", "rotate-key"); !strings.HasPrefix(out, "data key 2 is now used") {
				t.Fatalf("rotate-key: %q", out)
			}
			link := c.ok("", "invite", "--org", "bravo", "--email", "new.hire@example.com", "--role", "editor")
			if !regexp.MustCompile(`^http://127\.0\.0\.1:8080/invite/[A-Za-z0-9_-]{20,}$`).MatchString(link) {
				t.Fatalf("invite link %q", link)
			}
			if out := c.ok("", "invite", "--org", "bravo", "--email", "owner@example.com", "--role", "readonly"); !strings.Contains(out, "already has an account") {
				t.Fatalf("inviting an existing account: %q", out)
			}
			c.ok("", "member", "remove", "--org", "bravo", "--email", "tech@example.com")
			c.ok("", "user", "deactivate", "--email", "tech@example.com")
			feed := filepath.Join(t.TempDir(), "nvdcve-2.0-2025.json.gz")
			day := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
			if err := nvdtest.WriteFeed(feed, 3, func(i int) nvdtest.CVE {
				return nvdtest.CVE{ID: fmt.Sprintf("CVE-2025-%04d", i+1), Description: "x", Score: 5, Published: day, LastModified: day,
					Matches: []nvdtest.Match{nvdtest.Vulnerable("cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*", "", "", "", "7.2.5")}}
			}); err != nil {
				t.Fatal(err)
			}
			if out := c.ok("", "cve", "import", feed); out != "3 CVEs read, 3 new or changed" {
				t.Fatalf("cve import: %q", out)
			}
			if out := c.ok("", "cve", "import", feed); out != "3 CVEs read, 0 new or changed" {
				t.Fatalf("cve import again: %q", out)
			}
			notNVD := filepath.Join(t.TempDir(), "assets.json")
			os.WriteFile(notNVD, []byte(`[{"name": "fw1"}]`), 0o600)
			if code, _, errOut := c.run("", "cve", "import", notNVD); code == 0 || !strings.Contains(errOut, "not NVD CVE API 2.0 JSON") ||
				strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Fatalf("importing a non-NVD file: %d %q", code, errOut)
			}
			if v := c.ok("", "version"); !strings.HasPrefix(v, "clientst0r ") {
				t.Fatalf("version %q", v)
			}
			if dialect == db.SQLite {
				dest := filepath.Join(t.TempDir(), "backup.db")
				if got := c.ok("", "backup", dest); got != dest {
					t.Fatalf("backup printed %q", got)
				}
				d, err := db.Open(context.Background(), "sqlite://"+dest)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				var orgs int
				d.R.QueryRow(`SELECT count(*) FROM organizations`).Scan(&orgs)
				if orgs != 2 {
					t.Fatalf("backup holds %d organizations", orgs)
				}
			}
		})
	}
}

func TestBadCommandLinesFailWithOneLine(t *testing.T) {
	c := newCLI(t, db.SQLite)
	c.ok("a long enough password\n", "user", "create", "--email", "o@example.com", "--password-stdin")
	c.ok("", "org", "create", "--name", "Acme")
	cases := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"", []string{"org", "destroy"}, `unknown "org" command "destroy"`},
		{"", []string{"org", "create"}, "--name is required"},
		{"", []string{"org", "create", "--name"}, "flag needs an argument"},
		{"", []string{"org", "create", "--name", "x", "--color", "red"}, "flag provided but not defined: -color"},
		{"", []string{"org", "create", "--name", "x", "extra"}, `unexpected argument "extra"`},
		{"", []string{"org", "create", "--name", "Acme"}, "name: organization with this name already exists.; slug: organization with this slug already exists."},
		{"", []string{"org", "create", "--name", "x", "--slug", "Bad Slug"}, `slug: Enter a valid "slug"`},
		{"", []string{"user", "create", "--email", "x@example.com"}, "--password-stdin is required"},
		{"", []string{"user", "create", "--email", "x@example.com", "--password-stdin"}, "no password on standard input"},
		{"short\n", []string{"user", "create", "--email", "x@example.com", "--password-stdin"}, "password: Password must be at least 10 characters."},
		{"a long enough password\n", []string{"user", "create", "--email", "not-an-email", "--password-stdin"}, "email: Enter a valid email address."},
		{"a long enough password\n", []string{"user", "create", "--email", "o@example.com", "--password-stdin"}, "email: user with this email already exists."},
		{"", []string{"member", "add", "--org", "nope", "--email", "o@example.com", "--role", "owner"}, `no organization "nope"`},
		{"", []string{"member", "add", "--org", "acme", "--email", "who@example.com", "--role", "owner"}, "email: No user with this email."},
		{"", []string{"member", "add", "--org", "acme", "--email", "o@example.com", "--role", "king"}, `role: Unknown role "king".`},
		{"", []string{"member", "add", "--org", "acme", "--email", "o@example.com"}, "--role is required"},
		{"", []string{"member", "remove", "--org", "acme", "--email", "o@example.com"}, "is not a member of this organization"},
		{"", []string{"role", "create", "--name", "r", "--permissions", "assets.fly"}, `unknown permission "assets.fly"`},
		{"", []string{"apikey", "create", "--email", "o@example.com", "--name", "k", "--rate-limit", "lots"}, `--rate-limit "lots"`},
		{"", []string{"apikey", "create", "--email", "o@example.com", "--name", "k", "--expires", "soon"}, `--expires "soon"`},
		{"", []string{"apikey", "create", "--email", "o@example.com", "--name", "k", "--expires", "-5d"}, `--expires "-5d"`},
		{"", []string{"apikey", "create", "--email", "o@example.com", "--name", "k", "--org", "zzz"}, `no organization "zzz"`},
		{"", []string{"apikey", "create", "--email", "o@example.com", "--name", "k", "--org", "acme"}, "organizations: Organization 1 is not one of yours."},
		{"", []string{"apikey", "create", "--email", "o@example.com", "--name", "k", "--role", "king"}, `role: Unknown role "king".`},
		{"", []string{"backup"}, "give exactly one destination file"},
		{"", []string{"cve", "import"}, "give exactly one feed file"},
		{"", []string{"cve", "import", "/nonexistent/feed.json"}, "no such file"},
		{"", []string{"version", "--verbose"}, "flag provided but not defined"},
		{"", []string{"vault", "rotate-key", "now"}, `unexpected argument "now"`},
		{"", []string{"vault", "open"}, `unknown "vault" command "open"`},
	}
	for _, tc := range cases {
		code, out, errOut := c.run(tc.stdin, tc.args...)
		if code == 0 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "clientst0r: ") || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d stdout %q stderr %q (want one line containing %q)", tc.args, code, out, errOut, tc.want)
		}
	}
	// Configuration mistakes are reported one per line before anything starts.
	c.env["CLIENTST0R_ADDR"] = "nowhere"
	c.env["CLIENTST0R_DATABASE_URL"] = "mysql://x"
	code, _, errOut := c.run("", "migrate")
	if code == 0 || !strings.Contains(errOut, "CLIENTST0R_ADDR") || !strings.Contains(errOut, "CLIENTST0R_DATABASE_URL") {
		t.Fatalf("config errors: %d %q", code, errOut)
	}
}

func TestWrongMasterKeyRefusesToStart(t *testing.T) {
	c := newCLI(t, db.SQLite)
	c.ok("", "migrate")
	if _, err := os.Stat(filepath.Join(c.env["CLIENTST0R_DATA_DIR"], "master.key")); err != nil {
		t.Fatalf("master key file not generated: %v", err)
	}
	c.env["CLIENTST0R_MASTER_KEY"] = base64.StdEncoding.EncodeToString([]byte("a different key, also 32 bytes!!"))
	if code, _, errOut := c.run("", "migrate"); code == 0 || !strings.Contains(errOut, "master key does not match") {
		t.Fatalf("wrong key: %d %q", code, errOut)
	}
}

// server is `clientst0r serve` running in the test on a free port.
type server struct {
	url    string
	cancel context.CancelFunc
	done   chan struct{} // closed when serve has returned, with its exit code in code
	code   int
}

// serve starts the server and waits for its first line (the address it listens on).
func (c *cli) serve() *server {
	c.t.Helper()
	c.env["CLIENTST0R_ADDR"] = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	s := &server{cancel: cancel, done: make(chan struct{})}
	go func() {
		s.code = run(ctx, []string{"serve"}, func(k string) string { return c.env[k] }, strings.NewReader(""), outW, io.Discard)
		outW.Close()
		close(s.done)
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		c.t.Fatal(err)
	}
	go io.Copy(io.Discard, outR)
	s.url = regexp.MustCompile(`(http://\S+)`).FindStringSubmatch(line)[1]
	c.t.Cleanup(s.stop)
	return s
}

// stop stops the server and waits for it to return.
func (s *server) stop() {
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
	}
}

// serve stops on a signal only after the requests in flight have their answers.
func TestServeFinishesInFlightRequestsOnStop(t *testing.T) {
	c := newCLI(t, db.SQLite)
	c.ok("a long enough password\n", "user", "create", "--email", "root@example.com", "--superuser", "--password-stdin")
	key := c.ok("", "apikey", "create", "--email", "root@example.com", "--name", "k")
	srv := c.serve()
	addr, stop := strings.TrimPrefix(srv.url, "http://"), srv.cancel

	// Start a request whose body is still arriving when the stop comes.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"name": "Created During Shutdown"}`
	fmt.Fprintf(conn, "POST /api/organizations/ HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		addr, key, len(body), body[:10])
	time.Sleep(200 * time.Millisecond)
	stop()
	time.Sleep(200 * time.Millisecond)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the listener still accepts connections after the stop")
	}
	fmt.Fprint(conn, body[10:])
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	if res.StatusCode != 201 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("in-flight request: %d %s", res.StatusCode, b)
	}
	select {
	case <-srv.done:
		if srv.code != 0 {
			t.Fatalf("serve exited %d", srv.code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestMigrateToPostgres moves a SQLite installation with keys, a vault entry and a pending webhook
// delivery to PostgreSQL: the same key works there, the secret decrypts, ids continue and the
// delivery is queued again.
func TestMigrateToPostgres(t *testing.T) {
	if os.Getenv(testutil.PostgresURLEnv) == "" {
		t.Skip("needs PostgreSQL (" + testutil.PostgresURLEnv + ")")
	}
	c := newCLI(t, db.SQLite)
	c.ok("a long enough password\n", "user", "create", "--email", "owner@example.com", "--password-stdin")
	c.ok("", "org", "create", "--name", "Acme Corp")
	c.ok("", "member", "add", "--org", "acme-corp", "--email", "owner@example.com", "--role", "owner")
	key := c.ok("", "apikey", "create", "--email", "owner@example.com", "--name", "script", "--reveal")
	srv := c.serve()
	api := func(base, method, path string, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	if s, m := api(srv.url, "POST", "/api/passwords/", `{"title": "Firewall", "password": "s3cret-fw-pass"}`); s != 201 {
		t.Fatalf("password: %d %v", s, m)
	}
	if s, m := api(srv.url, "POST", "/api/webhooks/", `{"name": "PSA", "url": "https://psa.example/hook", "events": ["asset.created"]}`); s != 201 {
		t.Fatalf("webhook: %d %v", s, m)
	}
	if s, m := api(srv.url, "POST", "/api/assets/", `{"name": "fw1", "asset_type": "firewall"}`); s != 201 || m["id"].(float64) != 1 {
		t.Fatalf("asset: %d %v", s, m)
	}
	srv.stop()

	to := testutil.NewDBURL(t, db.Postgres)
	out := c.ok("", "migrate-to-postgres", "--to", to)
	if !strings.Contains(out, "passwords") || !strings.Contains(out, "1 pending webhook deliveries queued again") {
		t.Fatalf("migrate-to-postgres:\n%s", out)
	}
	if code, _, errOut := c.run("", "migrate-to-postgres", "--to", to); code == 0 || !strings.Contains(errOut, "empty one") {
		t.Fatalf("a second copy into the same database: %d %s", code, errOut)
	}

	keyFile, err := os.ReadFile(filepath.Join(c.env["CLIENTST0R_DATA_DIR"], "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	pg := &cli{t: t, env: map[string]string{"CLIENTST0R_DATA_DIR": t.TempDir(), "CLIENTST0R_DATABASE_URL": to,
		"CLIENTST0R_MASTER_KEY": strings.TrimSpace(string(keyFile))}}
	psrv := pg.serve()
	defer psrv.stop()
	s, m := api(psrv.url, "POST", "/api/passwords/1/reveal/", "")
	if s != 200 || m["password"] != "s3cret-fw-pass" {
		t.Fatalf("reveal on PostgreSQL: %d %v", s, m)
	}
	if s, m := api(psrv.url, "POST", "/api/assets/", `{"name": "fw2", "asset_type": "firewall"}`); s != 201 || m["id"].(float64) != 2 {
		t.Fatalf("a new asset after the copy: %d %v", s, m)
	}
}
