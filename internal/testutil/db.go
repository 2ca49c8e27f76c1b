// Package testutil gives tests real databases: a migrated SQLite file always, and a migrated
// PostgreSQL database when CLIENTST0R_TEST_POSTGRES_URL is set. Each test gets its own database,
// copied from a template migrated once per schema version, so tests are isolated and fast.
package testutil

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"clientst0r/internal/db"
)

// PostgresURLEnv names the variable that turns on the PostgreSQL half of the suite.
const PostgresURLEnv = "CLIENTST0R_TEST_POSTGRES_URL"

// Dialects returns the databases this run covers: SQLite always, PostgreSQL when configured.
func Dialects() []db.Dialect {
	if os.Getenv(PostgresURLEnv) != "" {
		return []db.Dialect{db.SQLite, db.Postgres}
	}
	return []db.Dialect{db.SQLite}
}

// EachDB runs fn as a subtest once per dialect, each with a fresh migrated database.
func EachDB(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, dialect := range Dialects() {
		t.Run(string(dialect), func(t *testing.T) {
			fn(t, NewDB(t, dialect))
		})
	}
}

// NewDB returns a fresh migrated database of the dialect, closed and removed when the test ends.
func NewDB(t testing.TB, dialect db.Dialect) *db.DB {
	t.Helper()
	u := NewDBURL(t, dialect)
	d, err := db.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// NewDBURL returns the URL of a fresh migrated database of the dialect.
func NewDBURL(t testing.TB, dialect db.Dialect) string {
	t.Helper()
	if dialect == db.SQLite {
		return newSQLite(t)
	}
	return newPostgres(t)
}

// NewEmptyDBURL returns the URL of a new database of the dialect with nothing in it, not even
// migrations (for tests of migrating), removed when the test ends.
func NewEmptyDBURL(t testing.TB, dialect db.Dialect) string {
	t.Helper()
	if dialect == db.SQLite {
		return "sqlite://" + filepath.Join(t.TempDir(), "empty.db")
	}
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		t.Skip(PostgresURLEnv + " is not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	name := "clientst0r_e_" + randomSuffix()
	if _, err := admin.Exec("CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C'"); err != nil {
		t.Fatalf("create empty database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return withDatabase(base, name)
}

// schemaVersion names the templates: it changes whenever our migrations or River's change.
func schemaVersion() string {
	h := sha256.New()
	for _, f := range []fs.FS{
		db.MigrationsFS(db.SQLite), db.MigrationsFS(db.Postgres),
		riversqlite.New(nil).GetMigrationFS("main"), riverdatabasesql.New(nil).GetMigrationFS("main"),
	} {
		fs.WalkDir(f, ".", func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := fs.ReadFile(f, p)
			h.Write([]byte(p))
			h.Write(b)
			return err
		})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

var (
	sqliteOnce     sync.Once
	sqliteTemplate string
	sqliteErr      error
)

func newSQLite(t testing.TB) string {
	sqliteOnce.Do(func() {
		sqliteTemplate = filepath.Join(os.TempDir(), "clientst0r-test-"+schemaVersion()+".db")
		if _, err := os.Stat(sqliteTemplate); err == nil {
			return
		}
		tmp := sqliteTemplate + "." + randomSuffix()
		sqliteErr = migrateAt("sqlite://" + tmp)
		if sqliteErr == nil {
			// Fold the WAL into the main file so one file is the whole template.
			sqliteErr = checkpoint(tmp)
		}
		if sqliteErr == nil {
			sqliteErr = os.Rename(tmp, sqliteTemplate)
		}
		os.Remove(tmp + "-wal")
		os.Remove(tmp + "-shm")
	})
	if sqliteErr != nil {
		t.Fatalf("sqlite template: %v", sqliteErr)
	}
	path := filepath.Join(t.TempDir(), "test.db")
	if err := copyFile(sqliteTemplate, path); err != nil {
		t.Fatalf("copy sqlite template: %v", err)
	}
	return "sqlite://" + path
}

func migrateAt(u string) error {
	d, err := db.Open(context.Background(), u)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Migrate(context.Background())
}

func checkpoint(path string) error {
	c, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE")
	return err
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var (
	pgOnce     sync.Once
	pgTemplate string
	pgErr      error
)

// newPostgres creates a database from a migrated template. The template is built once per schema
// version under an advisory lock, so parallel test packages share it.
func newPostgres(t testing.TB) string {
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		t.Skip(PostgresURLEnv + " is not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	pgOnce.Do(func() { pgTemplate, pgErr = ensurePGTemplate(admin, base) })
	if pgErr != nil {
		t.Fatalf("postgres template: %v", pgErr)
	}
	name := "clientst0r_t_" + randomSuffix()
	if _, err := admin.Exec(fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, pgTemplate)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec(fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return withDatabase(base, name)
}

func ensurePGTemplate(admin *sql.DB, base string) (string, error) {
	ctx := context.Background()
	name := "clientst0r_tpl_" + schemaVersion()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7423001)"); err != nil {
		return "", err
	}
	defer conn.ExecContext(ctx, "SELECT pg_advisory_unlock(7423001)")
	var exists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_b" + randomSuffix()
	// Byte-order collation, as on SQLite, so ordering tests mean the same on both databases.
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+building+" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C'"); err != nil {
		return "", err
	}
	if err := migrateAt(withDatabase(base, building)); err != nil {
		conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)")
		return "", err
	}
	if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return "", err
	}
	return name, nil
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}
