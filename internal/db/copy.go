package db

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// CopyToPostgres copies every table of a SQLite installation into a migrated, empty PostgreSQL
// database, keeping row ids (vault ciphertexts are bound to them), in foreign-key order, and moves
// the identity sequences past the copied ids. The job queue's tables are left out: the caller
// queues again what was pending. progress is told each table's row count.
func CopyToPostgres(ctx context.Context, src, dst *DB, progress func(table string, rows int)) error {
	if src.Dialect != SQLite || dst.Dialect != Postgres {
		return fmt.Errorf("db: copy goes from SQLite to PostgreSQL")
	}
	tables, err := copyOrder(ctx, dst)
	if err != nil {
		return err
	}
	var n int
	if err := dst.W.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM organizations)`).Scan(&n); err != nil {
		return fmt.Errorf("db: copy: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("db: copy: the PostgreSQL database already holds %d users and organizations; copy into an empty one", n)
	}
	tx, err := dst.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: copy: %w", err)
	}
	defer tx.Rollback()
	// What the migrations seed (the built-in roles) comes from the source like everything else.
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.name
	}
	if _, err := tx.ExecContext(ctx, `TRUNCATE `+strings.Join(names, ", ")+` RESTART IDENTITY`); err != nil {
		return fmt.Errorf("db: copy: empty the tables: %w", err)
	}
	for _, t := range tables {
		rows, err := copyTable(ctx, src.R, tx, t)
		if err != nil {
			return fmt.Errorf("db: copy %s: %w", t.name, err)
		}
		if t.identity {
			if _, err := tx.ExecContext(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', 'id'), COALESCE((SELECT max(id) FROM %s), 0) + 1, false)`,
				t.name, t.name)); err != nil {
				return fmt.Errorf("db: copy %s: sequence: %w", t.name, err)
			}
		}
		if progress != nil {
			progress(t.name, rows)
		}
	}
	return tx.Commit()
}

type copyTableInfo struct {
	name     string
	cols     []string // writable columns (generated ones are computed again)
	bools    map[string]bool
	identity bool
}

// copyOrder lists our tables (not River's or goose's) with their writable columns, parents before
// children.
func copyOrder(ctx context.Context, d *DB) ([]copyTableInfo, error) {
	rows, err := d.R.QueryContext(ctx, `SELECT c.table_name, c.column_name, c.data_type, c.is_generated, c.is_identity
		FROM information_schema.columns c JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name NOT LIKE 'river%'
		AND c.table_name <> 'goose_db_version' ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("db: copy: read schema: %w", err)
	}
	byName := map[string]*copyTableInfo{}
	var names []string
	for rows.Next() {
		var table, col, typ, generated, identity string
		if err := rows.Scan(&table, &col, &typ, &generated, &identity); err != nil {
			rows.Close()
			return nil, err
		}
		t := byName[table]
		if t == nil {
			t = &copyTableInfo{name: table, bools: map[string]bool{}}
			byName[table] = t
			names = append(names, table)
		}
		if generated == "ALWAYS" {
			continue
		}
		t.cols = append(t.cols, col)
		t.bools[col] = typ == "boolean"
		t.identity = t.identity || col == "id" && identity == "YES"
	}
	rows.Close()
	deps := map[string][]string{}
	fk, err := d.R.QueryContext(ctx, `SELECT DISTINCT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
		WHERE contype = 'f' AND connamespace = current_schema()::regnamespace`)
	if err != nil {
		return nil, fmt.Errorf("db: copy: read foreign keys: %w", err)
	}
	for fk.Next() {
		var child, parent string
		if err := fk.Scan(&child, &parent); err != nil {
			fk.Close()
			return nil, err
		}
		if child != parent {
			deps[child] = append(deps[child], parent)
		}
	}
	fk.Close()
	var out []copyTableInfo
	done := map[string]bool{}
	var visit func(string, []string) error
	visit = func(name string, path []string) error {
		if done[name] || byName[name] == nil {
			return nil
		}
		if slices.Contains(path, name) {
			return fmt.Errorf("db: copy: foreign keys form a cycle through %s", strings.Join(append(path, name), " → "))
		}
		for _, p := range deps[name] {
			if err := visit(p, append(path, name)); err != nil {
				return err
			}
		}
		done[name] = true
		out = append(out, *byName[name])
		return nil
	}
	slices.Sort(names)
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// copyTable streams one table in multi-row inserts. SQLite keeps booleans as integers; they
// become booleans.
func copyTable(ctx context.Context, src *sql.DB, tx *sql.Tx, t copyTableInfo) (int, error) {
	rows, err := src.QueryContext(ctx, `SELECT `+strings.Join(t.cols, ", ")+` FROM `+t.name)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	const perInsert = 200
	var batch []any
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var b strings.Builder
		b.WriteString(`INSERT INTO ` + t.name + ` (` + strings.Join(t.cols, ", ") + `) VALUES `)
		for r := 0; r < len(batch)/len(t.cols); r++ {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for c := range t.cols {
				if c > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "$%d", r*len(t.cols)+c+1)
			}
			b.WriteString(")")
		}
		_, err := tx.ExecContext(ctx, b.String(), batch...)
		batch = batch[:0]
		return err
	}
	for rows.Next() {
		vals := make([]any, len(t.cols))
		ptrs := make([]any, len(t.cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, col := range t.cols {
			if i64, ok := vals[i].(int64); ok && t.bools[col] {
				vals[i] = i64 != 0
			}
		}
		batch = append(batch, vals...)
		n++
		if n%perInsert == 0 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}
