package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"clientst0r/internal/db"
	"clientst0r/internal/testutil"
)

// Concurrent write transactions on SQLite are group-committed: each one's changes are kept or
// dropped on its own, whatever the others in its batch do.
func TestGroupCommitKeepsRequestsApart(t *testing.T) {
	d := testutil.NewDB(t, db.SQLite)
	ctx := context.Background()
	now := db.Time(time.Now())
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.Tx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.Exec(`INSERT INTO organizations (name, slug, created_at, updated_at) VALUES ($1, $1, $2, $2)`,
					fmt.Sprintf("org-%d", i), now); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errors.New("the request changed its mind")
				case 7:
					panic("a bug in one request")
				case 9: // a constraint violation inside the transaction
					_, err := tx.Exec(`INSERT INTO organizations (name, slug, created_at, updated_at) VALUES ('dup', $1, $2, $2)`,
						fmt.Sprintf("org-%d", i), now)
					return err
				}
				return nil
			})
		}()
	}
	wg.Wait()
	want := 0
	for i, err := range errs {
		if (err == nil) != (i%10 != 3 && i%10 != 7 && i%10 != 9) {
			t.Fatalf("request %d: %v", i, err)
		}
		if err == nil {
			want++
		}
	}
	var got int
	d.R.QueryRow(`SELECT count(*) FROM organizations`).Scan(&got)
	if got != want {
		t.Fatalf("%d organizations kept, want %d", got, want)
	}
	var stray int
	d.R.QueryRow(`SELECT count(*) FROM organizations WHERE name = 'dup' OR CAST(substr(name, 5) AS INTEGER) % 10 IN (3, 7, 9)`).Scan(&stray)
	if stray != 0 {
		t.Fatalf("%d rows of failed requests were committed", stray)
	}
}

func TestGroupCommitHonoursCancellation(t *testing.T) {
	d := testutil.NewDB(t, db.SQLite)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := d.Tx(ctx, func(tx *sql.Tx) error { t.Fatal("a cancelled request ran"); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}
