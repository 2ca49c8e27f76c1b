package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/db"
	"clientst0r/internal/list"
)

// listing describes one list query: the table and alias, the columns to select, and the tenancy
// condition already rendered by the caller of runList.
type listing struct {
	table   string // base table, also the FTS table's prefix on SQLite
	alias   string
	from    string // FROM clause, e.g. "assets a JOIN organizations o ON o.id = a.organization_id"
	columns string
	where   query // tenancy and fixed conditions; more conditions are appended
	// countFrom is the FROM clause for counting when the joins only add columns ("" = from).
	countFrom string
	// cacheCount reuses counts between changes; only for tables whose every write path calls
	// Store.changed (the organization-scoped kinds).
	cacheCount bool
	// search, when set, searches another table's index (findings through their CVE).
	search *searchVia
}

// searchVia searches table (aliased alias, its row id in rowid) and keeps the rows whose key
// column is among the matches' id.
type searchVia struct {
	table, alias, rowid, key string
}

// runList counts and fetches one page. scan is called for each row of the page.
func (s *Store) runList(ctx context.Context, spec *list.Spec, q list.Query, l *listing, scan func(*sql.Rows) error) (int, error) {
	// where renders the conditions; dense is the page query's variant for a search that matches
	// many rows (see searchCond).
	where := func(dense bool) query {
		w := query{args: slices.Clone(l.where.args)}
		w.b.WriteString(cmp.Or(l.where.String(), "TRUE"))
		for _, c := range q.Conds {
			w.add(" AND ")
			if c.Field.Where != "" {
				args := make([]any, strings.Count(c.Field.Where, "?"))
				for i := range args {
					args[i] = c.Value
				}
				if c.Field.Args != nil {
					args = c.Field.Args(c.Value, s.Now())
				}
				w.add("("+c.Field.Where+")", args...)
			} else {
				w.add(c.Field.Column+" "+c.Op+" ?", c.Value)
			}
		}
		switch {
		case len(q.Terms) == 0:
		case l.search != nil:
			v := l.search
			w.add(" AND " + v.key + " IN (SELECT " + v.alias + ".id FROM " + v.table + " " + v.alias + " WHERE ")
			searchCond(s.db.Dialect, v.table, v.alias, v.rowid, q.Terms, false, &w)
			w.add(")")
		default:
			w.add(" AND ")
			searchCond(s.db.Dialect, l.table, l.alias, l.alias+".id", q.Terms, dense, &w)
		}
		return w
	}

	w := where(false)
	countSQL := "SELECT count(*) FROM " + cmp.Or(l.countFrom, l.from) + " WHERE " + w.String()
	count, err := s.count(ctx, l.table, countSQL, w.args, l.cacheCount)
	if err != nil {
		return 0, fmt.Errorf("store: count %s: %w", l.table, err)
	}
	if q.Page > 1 && q.Offset() >= count {
		return count, list.ErrInvalidPage
	}
	if count == 0 {
		return 0, nil
	}
	if len(q.Terms) > 0 && count > denseSearch {
		w = where(true)
	}

	page := query{args: w.args}
	page.b.WriteString("SELECT " + l.columns + " FROM " + l.from + " WHERE " + w.String() + " ORDER BY ")
	for i, o := range q.Order {
		if i > 0 {
			page.b.WriteString(", ")
		}
		page.b.WriteString(o.Column)
		switch {
		case o.Desc && o.Nullable:
			page.b.WriteString(" DESC NULLS FIRST")
		case o.Desc:
			page.b.WriteString(" DESC")
		case o.Nullable:
			page.b.WriteString(" ASC NULLS LAST")
		}
	}
	page.b.WriteString(" LIMIT " + strconv.Itoa(q.PageSize) + " OFFSET " + strconv.Itoa(q.Offset()))
	rows, err := s.r.QueryContext(ctx, page.String(), page.args...)
	if err != nil {
		return 0, fmt.Errorf("store: list %s: %w", l.table, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return 0, fmt.Errorf("store: scan %s: %w", l.table, err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: list %s: %w", l.table, err)
	}
	return count, nil
}

// denseSearch is the match count above which a search page walks the ordering's index and tests
// each row against the matches, rather than fetching every match to sort it: with many matches
// the first page is found after a short walk; with few, fetching them is cheaper.
const denseSearch = 1000

// searchCond renders "every term occurs in the row's search_text" with the dialect's index:
// FTS5 trigram on SQLite (terms of three or more characters; shorter ones cannot use a trigram
// index and fall back to LIKE), pg_trgm GIN on PostgreSQL.
func searchCond(d db.Dialect, table, alias, rowid string, terms []string, dense bool, w *query) {
	var long []string
	w.add("(TRUE")
	for _, t := range terms {
		t = strings.ToLower(t)
		if d == db.SQLite && utf8.RuneCountInString(t) >= 3 {
			long = append(long, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
			continue
		}
		w.add(" AND "+alias+`.search_text LIKE ? ESCAPE '\'`, "%"+escapeLike(t)+"%")
	}
	if len(long) > 0 {
		// A unary plus keeps SQLite from driving the query by rowid from the matches (dense).
		plus := ""
		if dense {
			plus = "+"
		}
		w.add(" AND "+plus+rowid+" IN (SELECT rowid FROM "+table+"_fts WHERE "+table+"_fts MATCH ?)", strings.Join(long, " AND "))
	}
	w.add(")")
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// orgScope renders the tenancy condition for an organization-scoped list: the organizations where
// the caller has perm, narrowed to ?organization= when given (403 when that one is not accessible).
func (s *Store) orgScope(ctx context.Context, c *auth.Caller, perm auth.Perm, column, orgParam string, w *query) error {
	all, orgs := c.Scope(perm)
	if orgParam != "" {
		id, err := s.resolveOrg(ctx, orgParam)
		if err != nil || !c.Can(id, perm) {
			return apperr.ErrForbidden
		}
		w.add(column+" = ?", id)
		return nil
	}
	if all {
		w.add("TRUE")
		return nil
	}
	w.inList(column, orgs)
	return nil
}

// resolveOrg finds an organization by id or slug, without any access check.
func (s *Store) resolveOrg(ctx context.Context, idOrSlug string) (int64, error) {
	var id int64
	var err error
	if n, perr := strconv.ParseInt(idOrSlug, 10, 64); perr == nil {
		err = s.r.QueryRowContext(ctx, `SELECT id FROM organizations WHERE id = $1`, n).Scan(&id)
	} else {
		err = s.r.QueryRowContext(ctx, `SELECT id FROM organizations WHERE slug = $1`, idOrSlug).Scan(&id)
	}
	if err != nil {
		return 0, notFound(err, "resolve organization")
	}
	return id, nil
}

// countTTL bounds how long a cached count may be reused. Changes made through this process
// invalidate it at once, and on PostgreSQL those of other nodes a moment later (topicCount); the TTL
// covers what no notification reaches (the command line on SQLite, a notification lost with its
// connection).
const countTTL = 5 * time.Second

type countEntry struct {
	gen uint64
	n   int
	at  time.Time
}

// count runs a count query, reusing the last answer for the same query while its table has not
// changed: counting is a scan, and list pages repeat the same count over and over.
func (s *Store) count(ctx context.Context, table, sqlText string, args []any, cache bool) (int, error) {
	if !cache {
		var n int
		err := s.r.QueryRowContext(ctx, sqlText, args...).Scan(&n)
		return n, err
	}
	key := sqlText + "\x00" + fmt.Sprint(args...)
	gen := s.tableGen(table).Load()
	s.countMu.Lock()
	e, ok := s.counts[key]
	s.countMu.Unlock()
	if ok && e.gen == gen && time.Since(e.at) < countTTL {
		return e.n, nil
	}
	var n int
	if err := s.r.QueryRowContext(ctx, sqlText, args...).Scan(&n); err != nil {
		return 0, err
	}
	s.countMu.Lock()
	if len(s.counts) >= 4096 {
		clear(s.counts)
	}
	s.counts[key] = countEntry{gen: gen, n: n, at: time.Now()}
	s.countMu.Unlock()
	return n, nil
}

// tableGen is the change counter of a table.
func (s *Store) tableGen(table string) *atomic.Uint64 {
	g, _ := s.gens.LoadOrStore(table, new(atomic.Uint64))
	return g.(*atomic.Uint64)
}

// changed invalidates cached counts of a table, here and on the other nodes; every write path of a
// listed table calls it, after the commit.
func (s *Store) changed(table string) {
	s.forgetCounts(table)
	if s.nodes != nil {
		s.nodes.Notify(topicCount, table)
	}
}
