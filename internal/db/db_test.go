package db_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/db"
	"clientst0r/internal/testutil"
)

// columns returns "table.column" for every column of our own tables (not goose's, River's or FTS
// shadow tables).
func columns(t *testing.T, d *db.DB) []string {
	t.Helper()
	var q string
	if d.Dialect == db.SQLite {
		q = `SELECT m.name || '.' || c.name FROM sqlite_master m, pragma_table_xinfo(m.name) c
		     WHERE m.type = 'table' AND m.sql NOT LIKE 'CREATE VIRTUAL TABLE%'`
	} else {
		q = `SELECT table_name || '.' || column_name FROM information_schema.columns
		     WHERE table_schema = current_schema()`
	}
	rows, err := d.R.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(s, "river_") || strings.HasPrefix(s, "goose_") || strings.HasPrefix(s, "sqlite_") ||
			strings.Contains(s, "_fts_") || strings.HasPrefix(s, "_fts") {
			continue
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestSchemasMatch(t *testing.T) {
	if len(testutil.Dialects()) < 2 {
		t.Skip("PostgreSQL not configured (" + testutil.PostgresURLEnv + "); the comparison needs both databases")
	}
	lite := columns(t, testutil.NewDB(t, db.SQLite))
	pg := columns(t, testutil.NewDB(t, db.Postgres))
	if len(lite) < 20 {
		t.Fatalf("suspiciously few columns on SQLite: %v", lite)
	}
	for _, c := range lite {
		if !slices.Contains(pg, c) {
			t.Errorf("%s exists on SQLite but not on PostgreSQL", c)
		}
	}
	for _, c := range pg {
		if !slices.Contains(lite, c) {
			t.Errorf("%s exists on PostgreSQL but not on SQLite", c)
		}
	}
}

func TestMigrationVersionsMatch(t *testing.T) {
	lite, _ := fsNames(db.MigrationsFS(db.SQLite))
	pg, _ := fsNames(db.MigrationsFS(db.Postgres))
	if !slices.Equal(lite, pg) {
		t.Fatalf("migration files differ:\nsqlite:   %v\npostgres: %v", lite, pg)
	}
}

func TestErrorMapping(t *testing.T) {
	testutil.EachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ins := `INSERT INTO organizations (name, slug, created_at, updated_at) VALUES ($1, $2, $3, $3)`
		now := db.Time(time.Now())
		if _, err := d.W.ExecContext(ctx, ins, "Acme", "acme", now); err != nil {
			t.Fatal(err)
		}
		_, err := d.W.ExecContext(ctx, ins, "Other", "acme", now)
		if col, ok := db.IsUnique(err); !ok || col != "slug" {
			t.Fatalf("duplicate slug: got column %q ok=%v from %v", col, ok, err)
		}
		_, err = d.W.ExecContext(ctx, ins, "ACME", "acme2", now)
		if col, ok := db.IsUnique(err); !ok || col != "name" {
			t.Fatalf("duplicate name (case-insensitive): got column %q ok=%v from %v", col, ok, err)
		}
		_, err = d.W.ExecContext(ctx, `INSERT INTO memberships (user_id, organization_id, role_id, created_at, updated_at)
			VALUES (999, 999, 1, $1, $1)`, now)
		if !db.IsForeignKey(err) {
			t.Fatalf("missing user: want foreign-key violation, got %v", err)
		}
		if db.IsBusy(err) {
			t.Fatal("a foreign-key violation is not a busy error")
		}
	})
}

func TestBusyIsClassified(t *testing.T) {
	d := testutil.NewDB(t, db.SQLite)
	// A second writer on the same file with no busy timeout meets the first one's lock at once.
	other, err := sql.Open("sqlite", "file:"+d.Path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := d.W.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	_, err = other.Exec(`INSERT INTO app_meta (name, value) VALUES ('x', 'y')`)
	if !db.IsBusy(err) {
		t.Fatalf("want busy, got %v", err)
	}
}

func TestTimesRoundTrip(t *testing.T) {
	testutil.EachDB(t, func(t *testing.T, d *db.DB) {
		now := db.Time(time.Now())
		var id int64
		err := d.W.QueryRow(`INSERT INTO organizations (name, slug, created_at, updated_at) VALUES ('A', 'a', $1, $1) RETURNING id`, now).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		var got sql.NullTime
		if err := d.R.QueryRow(`SELECT created_at FROM organizations WHERE id = $1 AND created_at >= $2`, id, now).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Valid || !got.Time.Equal(now) {
			t.Fatalf("stored %v, read back %v", now, got.Time)
		}
	})
}

// modernc.org/sqlite is generated against one exact modernc.org/libc; any other version corrupts
// memory at run time, so the build must resolve libc to exactly what sqlite's go.mod names.
func TestLibcVersionMatchesSQLite(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-json", "modernc.org/sqlite", "modernc.org/libc").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	type mod struct{ Path, Version, GoMod string }
	var sqlite, libc mod
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var m mod
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m.Path == "modernc.org/sqlite" {
			sqlite = m
		} else {
			libc = m
		}
	}
	gomod, err := os.ReadFile(sqlite.GoMod)
	if err != nil {
		t.Fatalf("read sqlite's go.mod: %v", err)
	}
	want := regexp.MustCompile(`modernc\.org/libc (v[^\s]+)`).FindSubmatch(gomod)
	if want == nil {
		t.Fatalf("sqlite's go.mod names no libc version")
	}
	if libc.Version != string(want[1]) {
		t.Fatalf("modernc.org/sqlite %s wants modernc.org/libc %s; the build resolves %s", sqlite.Version, want[1], libc.Version)
	}
}

func fsNames(fsys fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, err
}
