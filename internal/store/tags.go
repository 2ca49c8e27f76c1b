package store

import (
	"context"
	"database/sql"
	"slices"

	"clientst0r/internal/list"
)

// tagTable is a record type's tag table: (<column>, tag) rows, indexed by tag for the filter.
type tagTable[T any, P record[T]] struct {
	table, column string
}

var (
	assetTags    = tagTable[Asset, *Asset]{"asset_tags", "asset_id"}
	passwordTags = tagTable[Password, *Password]{"password_tags", "password_id"}
)

// filter is the list's ?tag= filter for a table aliased alias.
func (t tagTable[T, P]) filter(alias string) list.Field {
	return list.Field{Name: "tag", Kind: list.String, Filter: true,
		Where: "EXISTS (SELECT 1 FROM " + t.table + " t WHERE t." + t.column + " = " + alias + ".id AND t.tag = ?)"}
}

// load attaches tags to a page of records with one query.
func (t tagTable[T, P]) load(ctx context.Context, q queryer, items []*T, tags func(*T) *[]string) error {
	byID := make(map[int64]*T, len(items))
	ids := make([]int64, len(items))
	for i, v := range items {
		*tags(v) = []string{}
		id := P(v).scoped().ID
		byID[id], ids[i] = v, id
	}
	var sel query
	sel.add("SELECT " + t.column + ", tag FROM " + t.table + " WHERE ")
	sel.inList(t.column, ids)
	sel.add(" ORDER BY tag")
	rows, err := q.QueryContext(ctx, sel.String(), sel.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var tag string
		if err := rows.Scan(&id, &tag); err != nil {
			return err
		}
		p := tags(byID[id])
		*p = append(*p, tag)
	}
	return rows.Err()
}

// write replaces a record's tag rows when its tags changed (after is nil on delete: rows cascade).
func (t tagTable[T, P]) write(ctx context.Context, tx *sql.Tx, before, after *T, tags func(*T) []string) error {
	if after == nil || (before != nil && slices.Equal(tags(before), tags(after))) {
		return nil
	}
	id := P(after).scoped().ID
	if before != nil {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t.table+` WHERE `+t.column+` = $1`, id); err != nil {
			return err
		}
	}
	for _, tag := range tags(after) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+t.table+` (`+t.column+`, tag) VALUES ($1, $2)`, id, tag); err != nil {
			return err
		}
	}
	return nil
}
