package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations
var migrations embed.FS

// MigrationsFS returns the migration folder of a dialect.
func MigrationsFS(d Dialect) fs.FS {
	sub, err := fs.Sub(migrations, "migrations/"+string(d))
	if err != nil {
		panic(err) // the folders are embedded at build time
	}
	return sub
}

// MigrationLock is the PostgreSQL advisory lock a node holds while it migrates ("cs-migr").
const MigrationLock int64 = 0x63732d6d69677200

// Migrate applies our migrations and River's. On PostgreSQL both run under one advisory lock, held
// on one connection from before the first migration is looked at until after the last, so nodes
// starting together migrate one after another: the first does the work, the others find nothing to
// do.
func (d *DB) Migrate(ctx context.Context) error {
	if d.Dialect != Postgres {
		return d.migrate(ctx)
	}
	conn, err := d.W.Conn(ctx)
	if err != nil {
		return fmt.Errorf("db: migration lock: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, MigrationLock); err != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn }) // the lock may be held or pending: drop the session
		return fmt.Errorf("db: migration lock: %w", err)
	}
	migErr := d.migrate(ctx)
	var held bool
	if err := conn.QueryRowContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, MigrationLock).Scan(&held); err != nil || !held {
		// A session still holding the lock must not go back to the pool: closing it releases the lock.
		conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	return migErr
}

func (d *DB) migrate(ctx context.Context) error {
	dialect := goose.DialectSQLite3
	if d.Dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, d.W, MigrationsFS(d.Dialect))
	if err != nil {
		return fmt.Errorf("db: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	if err := d.migrateRiver(ctx); err != nil {
		return fmt.Errorf("db: migrate job queue: %w", err)
	}
	return nil
}

func (d *DB) migrateRiver(ctx context.Context) error {
	if d.Dialect == SQLite {
		m, err := rivermigrate.New(riversqlite.New(d.W), nil)
		if err != nil {
			return err
		}
		_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		return err
	}
	m, err := rivermigrate.New(riverdatabasesql.New(d.W), nil)
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// Tx runs fn in a write transaction and commits it when fn returns nil; when fn fails nothing it
// did is kept. On SQLite concurrent calls are group-committed (see batch.go).
func (d *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if d.batch != nil {
		return d.batch.do(ctx, fn)
	}
	tx, err := d.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: commit: %w", err)
	}
	return nil
}
