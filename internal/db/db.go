// Package db opens the database (embedded SQLite or PostgreSQL), applies migrations and maps
// driver errors to the application's vocabulary. Everything above it uses one *sql.DB type.
package db

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// Dialect names the SQL flavour behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB holds a read pool and a write pool. On SQLite the write pool has exactly one connection and
// every transaction on it begins IMMEDIATE, so writers queue in Go instead of failing with SQLITE_BUSY;
// readers use WAL snapshots in parallel. On PostgreSQL both fields are the same pool.
type DB struct {
	R, W    *sql.DB
	Dialect Dialect
	// Path is the SQLite file, empty on PostgreSQL.
	Path string

	url   string   // the PostgreSQL URL, for connections of their own (the change listener)
	batch *batcher // SQLite's group commit of write transactions

	closeOnce sync.Once
	closeErr  error
}

// Close closes both pools; closing again does nothing.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		if d.batch != nil {
			d.batch.close()
		}
		d.closeErr = d.W.Close()
		if d.R != d.W {
			if rerr := d.R.Close(); d.closeErr == nil {
				d.closeErr = rerr
			}
		}
	})
	return d.closeErr
}

// ParseURL tells the dialect of a database URL and, for SQLite, the file path.
func ParseURL(raw string) (Dialect, string, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		p := strings.TrimPrefix(raw, "sqlite://")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if p == "" {
			return "", "", fmt.Errorf("sqlite URL %q has no file path", raw)
		}
		return SQLite, p, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return "", "", fmt.Errorf("postgres URL is not a valid URL: %v", err)
		}
		return Postgres, "", nil
	default:
		return "", "", fmt.Errorf("database URL must start with sqlite:// or postgres://")
	}
}

// Open connects to the database named by rawURL and checks that it answers.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	dialect, path, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	var d *DB
	if dialect == SQLite {
		d, err = openSQLite(path)
	} else {
		d, err = openPostgres(rawURL)
	}
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.W.PingContext(pingCtx); err != nil {
		d.Close()
		return nil, fmt.Errorf("db: connect: %w", err)
	}
	return d, nil
}

func sqliteDSN(path string, txlock string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// 8 MiB of page cache per connection (the default is 2 MiB): list and search pages touch the
	// same index pages over and over. Bounded, as every read connection has its own.
	q.Add("_pragma", "cache_size(-8192)")
	q.Set("_time_format", "sqlite")
	if txlock != "" {
		q.Set("_txlock", txlock)
	}
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("db: create directory for %s: %w", path, err)
		}
	}
	w, err := sql.Open("sqlite", sqliteDSN(path, "immediate"))
	if err != nil {
		return nil, fmt.Errorf("db: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Open the writer first so journal_mode(WAL) is settled before readers connect.
	if err := w.Ping(); err != nil {
		w.Close()
		return nil, fmt.Errorf("db: open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", sqliteDSN(path, ""))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("db: open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	return &DB{R: r, W: w, Dialect: SQLite, Path: path, batch: newBatcher(w)}, nil
}

func openPostgres(rawURL string) (*DB, error) {
	p, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("db: open postgres: %w", err)
	}
	p.SetMaxOpenConns(max(8, runtime.GOMAXPROCS(0)*4))
	p.SetMaxIdleConns(max(8, runtime.GOMAXPROCS(0)*4))
	p.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{R: p, W: p, Dialect: Postgres, url: rawURL}, nil
}

// Time normalises t the way times are stored: UTC, truncated to microseconds (the precision both
// databases keep), so a value read back equals the value written.
func Time(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
