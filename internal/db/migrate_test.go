package db_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"clientst0r/internal/db"
	"clientst0r/internal/testutil"
)

func openDB(t *testing.T, u string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// migrated reports whether our last migration and River's tables are in place.
func migrated(t *testing.T, d *db.DB) bool {
	t.Helper()
	var version int64
	if err := d.R.QueryRow(`SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version`).Scan(&version); err != nil {
		return false
	}
	var jobs int
	if err := d.R.QueryRow(`SELECT count(*) FROM river_job`).Scan(&jobs); err != nil {
		return false
	}
	return version >= 13
}

// Nodes starting together on a fresh PostgreSQL database each migrate; under the one lock they take
// turns, and all succeed.
func TestConcurrentMigrationsOnFreshDatabase(t *testing.T) {
	u := testutil.NewEmptyDBURL(t, db.Postgres)
	const nodes = 3
	ds := make([]*db.DB, nodes)
	for i := range ds {
		ds[i] = openDB(t, u)
	}
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, d := range ds {
		wg.Go(func() {
			<-start
			errs[i] = d.Migrate(context.Background())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: %v", i, err)
		}
	}
	if !migrated(t, ds[0]) {
		t.Fatal("schema not migrated")
	}
}

// Migrate waits for the migration lock before it looks at either migration set, and holds it
// until River's migrations are done too.
func TestMigrateHoldsTheLock(t *testing.T) {
	u := testutil.NewEmptyDBURL(t, db.Postgres)
	d := openDB(t, u)
	ctx := context.Background()
	other, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	holder, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, db.MigrationLock); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Migrate(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("migrated while another node held the lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	var started bool // goose creates its version table before anything else
	if err := other.QueryRow(`SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&started); err != nil || started {
		t.Fatalf("migrations started while another node held the lock (%v)", err)
	}
	if _, err := holder.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, db.MigrationLock); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !migrated(t, d) {
		t.Fatal("not migrated")
	}
	// Held until the end: River's migrations ran under it, and it is released afterwards.
	var got bool
	if err := holder.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, db.MigrationLock).Scan(&got); err != nil || !got {
		t.Fatalf("lock not released after migrating: %v %v", got, err)
	}
}
