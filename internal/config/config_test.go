package config

import (
	"strings"
	"testing"

	"clientst0r/internal/db"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.DatabaseURL != "sqlite://data/clientst0r.db" ||
		c.Dialect != db.SQLite || c.MasterKey != nil || c.BaseURL != "" || c.AllowPrivateTargets ||
		c.HIBPURL != "https://api.pwnedpasswords.com" || c.NVDURL != "https://services.nvd.nist.gov" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestValidValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"CLIENTST0R_ADDR":                  ":9000",
		"CLIENTST0R_DATABASE_URL":          "postgres://u@db.example.com/clientst0r",
		"CLIENTST0R_MASTER_KEY":            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"CLIENTST0R_BASE_URL":              "https://docs.example.com/",
		"CLIENTST0R_ALLOW_PRIVATE_TARGETS": "true",
		"CLIENTST0R_HIBP_URL":              "off",
		"CLIENTST0R_NVD_URL":               "http://127.0.0.1:9999/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Dialect != db.Postgres || string(c.MasterKey) != "0123456789abcdef0123456789abcdef" || c.BaseURL != "https://docs.example.com" ||
		!c.AllowPrivateTargets || c.HIBPURL != "" || c.NVDURL != "http://127.0.0.1:9999" {
		t.Fatalf("%+v", c)
	}
}

func TestEveryMistakeOnItsOwnLine(t *testing.T) {
	_, err := Load(env(map[string]string{
		"CLIENTST0R_ADDR":                  "localhost",
		"CLIENTST0R_DATABASE_URL":          "mysql://x",
		"CLIENTST0R_MASTER_KEY":            "c2hvcnQ=",
		"CLIENTST0R_BASE_URL":              "docs.example.com",
		"CLIENTST0R_ALLOW_PRIVATE_TARGETS": "maybe",
		"CLIENTST0R_HIBP_URL":              "ftp://x",
		"CLIENTST0R_NVD_URL":               "::",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, name := range []string{"ADDR", "DATABASE_URL", "MASTER_KEY", "BASE_URL", "ALLOW_PRIVATE_TARGETS", "HIBP_URL", "NVD_URL"} {
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "CLIENTST0R_"+name+": ") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d lines in\n%s", name, n, err)
		}
	}
	if len(lines) != 7 {
		t.Errorf("want 7 lines, got %d:\n%s", len(lines), err)
	}
}

func TestPostgresNeedsMasterKey(t *testing.T) {
	_, err := Load(env(map[string]string{"CLIENTST0R_DATABASE_URL": "postgres://localhost/x"}))
	if err == nil || !strings.Contains(err.Error(), "CLIENTST0R_MASTER_KEY: required on PostgreSQL") {
		t.Fatalf("got %v", err)
	}
	for _, bad := range []string{"1.2.3.4:99999", "a b:80", "host:port"} {
		if _, err := Load(env(map[string]string{"CLIENTST0R_ADDR": bad})); err == nil {
			t.Errorf("address %q accepted", bad)
		}
	}
}

func TestRequireTwoFactor(t *testing.T) {
	for v, want := range map[string]bool{"": false, "true": true, "TRUE": true, "1": true, "yes": true, "false": false, "0": false} {
		c, err := Load(env(map[string]string{"CLIENTST0R_REQUIRE_2FA": v}))
		if err != nil || c.RequireTwoFactor != want {
			t.Errorf("%q: %v %v", v, c.RequireTwoFactor, err)
		}
	}
	_, err := Load(env(map[string]string{"CLIENTST0R_REQUIRE_2FA": "sometimes"}))
	if err == nil || err.Error() != `CLIENTST0R_REQUIRE_2FA: "sometimes" is not true or false` {
		t.Fatalf("bad value: %v", err)
	}
}
