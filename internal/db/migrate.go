package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
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

// Migrate applies our migrations and River's. On PostgreSQL a session lock keeps several nodes
// starting at once from migrating concurrently.
func (d *DB) Migrate(ctx context.Context) error {
	var opts []goose.ProviderOption
	dialect := goose.DialectSQLite3
	if d.Dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("db: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, d.W, MigrationsFS(d.Dialect), opts...)
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
