package main

import (
	"context"
	"path/filepath"
	"testing"

	"clientst0r/internal/db"
)

func TestTwoFactorCommands(t *testing.T) {
	c := newCLI(t, db.SQLite)
	c.ok("a long enough password\n", "user", "create", "--email", "tech@example.com", "--password-stdin")
	c.ok("", "org", "create", "--name", "Strict", "--require-2fa")
	c.ok("", "org", "create", "--name", "Relaxed")
	c.ok("", "user", "reset-2fa", "--email", "tech@example.com")
	if code, _, errOut := c.run("", "user", "reset-2fa", "--email", "nobody@example.com"); code == 0 || errOut == "" {
		t.Fatalf("unknown user: exit %d %q", code, errOut)
	}
	d, err := db.Open(context.Background(), "sqlite://"+filepath.Join(c.env["CLIENTST0R_DATA_DIR"], "clientst0r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var strict, relaxed bool
	d.R.QueryRow(`SELECT require_two_factor FROM organizations WHERE slug = 'strict'`).Scan(&strict)
	d.R.QueryRow(`SELECT require_two_factor FROM organizations WHERE slug = 'relaxed'`).Scan(&relaxed)
	if !strict || relaxed {
		t.Fatalf("require_two_factor: strict %v relaxed %v", strict, relaxed)
	}
	var resets int
	d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = '2fa.reset' AND object_repr = 'tech@example.com'`).Scan(&resets)
	if resets != 1 {
		t.Fatalf("%d reset audit rows", resets)
	}
}
