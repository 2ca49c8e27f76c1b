package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
	"clientst0r/internal/vuln"
)

// Vulnerability is a finding: one CVE matched by one asset.
type Vulnerability struct {
	Scoped
	AssetID     int64
	AssetName   string
	CVEID       string
	Severity    string // "" while NVD has not scored the CVE
	CVSSScore   *float64
	Summary     string
	Matched     string
	PublishedAt *time.Time
	Status      string
	FirstSeenAt time.Time
	ResolvedAt  *time.Time
}

// VulnStatuses are the values of a finding's status; Severities those of its severity.
var (
	VulnStatuses = []string{"open", "resolved", "ignored"}
	Severities   = []string{"low", "medium", "high", "critical"}
)

// VulnerabilitySpec declares /api/vulnerabilities/.
var VulnerabilitySpec = list.Spec{
	DefaultOrder: "-first_seen_at",
	OrgScoped:    true,
	Searchable:   true,
	Fields: []list.Field{
		{Name: "id", Column: "v.id", Kind: list.Int, Order: true},
		{Name: "organization", Column: "v.organization_id", Kind: list.Int, Order: true},
		{Name: "cve_id", Column: "v.cve_id", Order: true, Search: true, Filter: true},
		{Name: "asset", Column: "v.asset_id", Kind: list.Int, Filter: true, Order: true},
		{Name: "severity", Column: "v.severity", Kind: list.Enum, Enum: Severities, Filter: true, Order: true},
		{Name: "cvss_score", Column: "v.cvss_score", Order: true, Nullable: true},
		{Name: "summary", Column: "v.summary", Search: true},
		{Name: "published_at", Column: "v.published_at", Kind: list.Time, Order: true, Range: true, Nullable: true},
		{Name: "status", Column: "v.status", Kind: list.Enum, Enum: VulnStatuses, Filter: true, Order: true},
		{Name: "first_seen_at", Column: "v.first_seen_at", Kind: list.Time, Order: true, Range: true},
		{Name: "resolved_at", Column: "v.resolved_at", Kind: list.Time, Order: true, Range: true, Nullable: true},
		{Name: "created_at", Column: "v.created_at", Kind: list.Time, Order: true, Range: true},
		{Name: "updated_at", Column: "v.updated_at", Kind: list.Time, Order: true, Range: true},
	},
}

// Findings are written by scans; people only change their status, so the kind has no create.
var vulnerabilities = &kind[Vulnerability, *Vulnerability]{
	table: "vulnerabilities", alias: "v", object: "vulnerability", spec: &VulnerabilitySpec,
	cols:   []string{"status", "resolved_at"},
	values: func(v *Vulnerability) []any { return []any{v.Status, nullTime(v.ResolvedAt)} },
	selectCols: `v.asset_id, (SELECT name FROM assets WHERE id = v.asset_id), v.cve_id, v.severity, v.cvss_score, v.summary,
		v.matched, v.published_at, v.status, v.first_seen_at, v.resolved_at`,
	dest: func(v *Vulnerability) []any {
		return []any{&v.AssetID, &v.AssetName, &v.CVEID, &v.Severity, &v.CVSSScore, &v.Summary, &v.Matched, &v.PublishedAt,
			&v.Status, &v.FirstSeenAt, &v.ResolvedAt}
	},
	view: auth.VulnerabilitiesView, create: auth.VulnerabilitiesManage, edit: auth.VulnerabilitiesManage, remove: auth.VulnerabilitiesManage,
	prepare: func(ctx context.Context, q queryer, c *auth.Caller, v *Vulnerability) error {
		if !slices.Contains(VulnStatuses, v.Status) {
			return apperr.Field("status", "Choose one of "+strings.Join(VulnStatuses, ", ")+".")
		}
		if v.Status != "resolved" {
			v.ResolvedAt = nil
		}
		return nil
	},
	fields: func(v *Vulnerability) map[string]any { return map[string]any{"status": v.Status} },
	repr:   func(v *Vulnerability) string { return v.CVEID + " on " + v.AssetName },
	search: &searchVia{table: "cves", alias: "c", rowid: "c.pk", key: "v.cve_id"},
}

// ListVulnerabilities pages the findings of the caller's organizations.
func (s *Store) ListVulnerabilities(ctx context.Context, q list.Query) ([]Vulnerability, int, error) {
	return listScoped(ctx, s, vulnerabilities, q)
}

// GetVulnerability reads one finding.
func (s *Store) GetVulnerability(ctx context.Context, id int64) (Vulnerability, error) {
	return vulnerabilities.get(ctx, s, id)
}

// UpdateVulnerability changes a finding's status (open, ignored or resolved by hand).
func (s *Store) UpdateVulnerability(ctx context.Context, id int64, change func(*Vulnerability) error) (Vulnerability, error) {
	return updateScoped(ctx, s, vulnerabilities, id, func(v *Vulnerability) error {
		if err := change(v); err != nil {
			return err
		}
		if v.Status == "resolved" && v.ResolvedAt == nil {
			now := s.Now()
			v.ResolvedAt = &now
		}
		return nil
	})
}

// CVEBatch saves CVEs in transactions of a few hundred; Add and Flush.
type CVEBatch struct {
	s       *Store
	pending []vuln.CVE
	// Read counts the CVEs added, Changed those that were new or modified.
	Read, Changed int
}

// NewCVEBatch starts a batch.
func (s *Store) NewCVEBatch() *CVEBatch { return &CVEBatch{s: s} }

// Add queues a CVE, saving the batch when it is full.
func (b *CVEBatch) Add(ctx context.Context, c vuln.CVE) error {
	b.pending = append(b.pending, c)
	b.Read++
	if len(b.pending) >= 500 {
		return b.Flush(ctx)
	}
	return nil
}

// Flush saves what is queued.
func (b *CVEBatch) Flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	n, err := b.s.saveCVEs(ctx, b.pending)
	b.Changed += n
	b.pending = b.pending[:0]
	return err
}

// ImportCVEs streams an NVD 2.0 feed (JSON, gzip-compressed or not) into the CVE data.
func (s *Store) ImportCVEs(ctx context.Context, r io.Reader) (vuln.Page, *CVEBatch, error) {
	b := s.NewCVEBatch()
	p, err := vuln.Decode(r, func(c vuln.CVE) error { return b.Add(ctx, c) })
	if err == nil {
		err = b.Flush(ctx)
	}
	return p, b, err
}

// saveCVEs upserts CVEs with their criteria in one transaction, skipping those whose
// last-modified date is unchanged. The vendor:product keys whose criteria were touched, before
// and after, are recorded in cve_changes so the next scan matches their assets again; findings of
// a changed CVE take its new severity, score and summary. Rows are written by the hundred per
// statement: on SQLite each statement flushes the full-text index.
func (s *Store) saveCVEs(ctx context.Context, cves []vuln.CVE) (int, error) {
	changed := 0
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		ids := make([]string, len(cves))
		for i, c := range cves {
			ids[i] = c.ID
		}
		stored := map[string]time.Time{}
		if err := eachRow(ctx, tx, inStrings(`SELECT id, last_modified_at FROM cves WHERE id`, ids), func(r *sql.Rows) error {
			var id string
			var t sql.NullTime
			err := r.Scan(&id, &t)
			stored[id] = t.Time
			return err
		}); err != nil {
			return err
		}
		var todo []vuln.CVE
		seen := map[string]bool{}
		for _, c := range slices.Backward(cves) { // the last copy of a CVE in the batch wins
			if t, ok := stored[c.ID]; seen[c.ID] || ok && c.LastModified != nil && t.Equal(*c.LastModified) {
				continue
			}
			seen[c.ID] = true
			todo = append(todo, c)
		}
		changed = len(todo)
		if changed == 0 {
			return nil
		}
		ids = ids[:0]
		for _, c := range todo {
			ids = append(ids, c.ID)
		}
		keys := map[[2]string]bool{}
		if err := eachRow(ctx, tx, inStrings(`SELECT DISTINCT vendor, product FROM cve_matches WHERE cve_id`, ids), func(r *sql.Rows) error {
			var k [2]string
			err := r.Scan(&k[0], &k[1])
			keys[k] = true
			return err
		}); err != nil {
			return err
		}
		if err := execQuery(ctx, tx, inStrings(`DELETE FROM cve_matches WHERE cve_id`, ids)); err != nil {
			return err
		}
		now := s.Now()
		var criteria []vuln.Criterion
		for chunk := range slices.Chunk(todo, 100) {
			q := (&query{}).add(`INSERT INTO cves (id, description, cvss_score, cvss_version, severity, published_at, last_modified_at, stored_at) VALUES `)
			for i, c := range chunk {
				if i > 0 {
					q.add(", ")
				}
				q.add("(?, ?, ?, ?, ?, ?, ?, ?)", c.ID, c.Description, c.Score, c.CVSSVersion, c.Severity, nullTime(c.Published),
					nullTime(c.LastModified), now)
				if !c.Rejected {
					criteria = append(criteria, c.Criteria...)
				}
			}
			q.add(` ON CONFLICT (id) DO UPDATE SET description = excluded.description, cvss_score = excluded.cvss_score,
				cvss_version = excluded.cvss_version, severity = excluded.severity, published_at = excluded.published_at,
				last_modified_at = excluded.last_modified_at, stored_at = excluded.stored_at`)
			if err := execQuery(ctx, tx, q); err != nil {
				return err
			}
		}
		if err := insertCriteria(ctx, tx, criteria, keys); err != nil {
			return err
		}
		// Findings of a CVE that was stored before carry its details; new CVEs have none yet.
		var revised []string
		for _, c := range todo {
			if _, ok := stored[c.ID]; ok {
				revised = append(revised, c.ID)
			}
		}
		if len(revised) > 0 {
			q := (&query{}).add(`UPDATE vulnerabilities SET severity = c.severity, cvss_score = c.cvss_score,
				summary = substr(c.description, 1, 1000), published_at = c.published_at, updated_at = ? FROM cves c
				WHERE c.id = vulnerabilities.cve_id AND vulnerabilities.cve_id`, now)
			q.inStrings(revised)
			if err := execQuery(ctx, tx, q); err != nil {
				return err
			}
		}
		var all [][2]string
		for k := range keys {
			all = append(all, k)
		}
		for chunk := range slices.Chunk(all, 200) {
			q := (&query{}).add(`INSERT INTO cve_changes (vendor, product) VALUES `)
			for i, k := range chunk {
				if i > 0 {
					q.add(", ")
				}
				q.add("(?, ?)", k[0], k[1])
			}
			if err := execQuery(ctx, tx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if changed > 0 {
		s.changed("vulnerabilities")
	}
	return changed, wrap(err, "save CVEs")
}

// inStrings renders prefix followed by " IN (…)" of vals.
func inStrings(prefix string, vals []string) *query {
	q := (&query{}).add(prefix)
	q.inStrings(vals)
	return q
}

func eachRow(ctx context.Context, q queryer, sq *query, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, sq.String(), sq.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func execQuery(ctx context.Context, tx *sql.Tx, q *query) error {
	_, err := tx.ExecContext(ctx, q.String(), q.args...)
	return err
}

// insertCriteria writes criteria in multi-row statements.
func insertCriteria(ctx context.Context, tx *sql.Tx, cs []vuln.Criterion, keys map[[2]string]bool) error {
	for chunk := range slices.Chunk(cs, 100) {
		q := (&query{}).add(`INSERT INTO cve_matches (cve_id, criteria, vendor, product, wild, version_start_including, version_start_excluding,
			version_end_including, version_end_excluding) VALUES `)
		for i, m := range chunk {
			if i > 0 {
				q.add(", ")
			}
			q.add("(?, ?, ?, ?, ?, ?, ?, ?, ?)", m.CVE, m.Criteria, m.CPE.Vendor, m.CPE.Product, m.CPE.Wild(), m.StartIncluding,
				m.StartExcluding, m.EndIncluding, m.EndExcluding)
			keys[[2]string{m.CPE.Vendor, m.CPE.Product}] = true
		}
		if err := execQuery(ctx, tx, q); err != nil {
			return err
		}
	}
	return nil
}

// CVECount is how many CVEs are stored.
func (s *Store) CVECount(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM cves`).Scan(&n)
	return n, wrap(err, "count CVEs")
}

// Meta reads a value of app_meta; "" when unset.
func (s *Store) Meta(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.W.QueryRowContext(ctx, `SELECT value FROM app_meta WHERE name = $1`, name).Scan(&v)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return v, wrap(err, "read "+name)
}

// SetMeta writes a value of app_meta.
func (s *Store) SetMeta(ctx context.Context, name, value string) error {
	return wrap(s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO app_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
			name, value)
		return err
	}), "write "+name)
}

// VulnScanOptions say which assets a scan matches.
type VulnScanOptions struct {
	Orgs []int64 // nil: every organization
	// Full matches every asset of Orgs; otherwise only assets changed since their last match and
	// assets known by a vendor:product whose CVE criteria changed.
	Full     bool
	Progress func(VulnScanCounts)
}

// VulnScanCounts is what a scan did.
type VulnScanCounts struct {
	AssetsTotal, AssetsScanned, Opened, Resolved int
}

type scanAsset struct {
	id, org              int64
	orgName, name        string
	status               string
	facts                vuln.Asset
	updatedAt, scannedAt sql.NullTime
}

const scanBatch = 500

// ScanVulnerabilities matches assets against the stored CVE criteria, opening a finding (and a
// vulnerability.found event) for every new (CVE, asset) pair and resolving those no longer
// matched. Assets are streamed in batches, each written in its own transaction; the criteria of
// the vendor:product keys the inventory uses are loaded once per scan.
func (s *Store) ScanVulnerabilities(ctx context.Context, opts VulnScanOptions) (VulnScanCounts, error) {
	var counts VulnScanCounts
	changes, changeIDs, err := s.cveChanges(ctx)
	if err != nil {
		return counts, err
	}
	everyAsset := opts.Full || len(changes) > 0
	if err := s.countScanAssets(ctx, opts.Orgs, everyAsset, &counts.AssetsTotal); err != nil {
		return counts, err
	}
	m := &matcher{s: s, byKey: map[string][]*vuln.Criterion{}}
	wildLoaded := false // the periodic scan mostly finds nothing to do: read them only for work
	for after := int64(0); ; {
		batch, err := s.scanAssets(ctx, opts.Orgs, everyAsset, after)
		if err != nil {
			return counts, err
		}
		if len(batch) == 0 {
			break
		}
		after = batch[len(batch)-1].id
		if !wildLoaded {
			if m.wild, err = s.loadCriteria(ctx, `wild`); err != nil {
				return counts, err
			}
			wildLoaded = true
		}
		var todo []scanAsset
		var cands [][]vuln.Candidate
		for _, a := range batch {
			c := vuln.Candidates(a.facts)
			pending := !a.scannedAt.Valid || a.scannedAt.Time.Before(a.updatedAt.Time)
			if opts.Full || pending || touches(c, changes) {
				todo = append(todo, a)
				cands = append(cands, c)
			}
		}
		if err := m.load(ctx, cands); err != nil {
			return counts, err
		}
		opened, resolved, err := s.applyFindings(ctx, todo, cands, m)
		if err != nil {
			return counts, err
		}
		counts.AssetsScanned += len(batch)
		counts.Opened += opened
		counts.Resolved += resolved
		if opts.Progress != nil {
			opts.Progress(counts)
		}
	}
	if opts.Orgs == nil && len(changeIDs) > 0 {
		if err := s.forgetChanges(ctx, changeIDs); err != nil {
			return counts, err
		}
	}
	if counts.Opened+counts.Resolved > 0 {
		s.changed("vulnerabilities")
	}
	return counts, nil
}

func touches(cands []vuln.Candidate, changes map[string]bool) bool {
	for _, c := range cands {
		if changes[c.Key()] {
			return true
		}
	}
	return false
}

// cveChanges reads the recorded criteria changes: the set of keys and the rows' ids.
func (s *Store) cveChanges(ctx context.Context) (map[string]bool, []int64, error) {
	rows, err := s.db.W.QueryContext(ctx, `SELECT id, vendor, product FROM cve_changes ORDER BY id`)
	if err != nil {
		return nil, nil, wrap(err, "read CVE changes")
	}
	defer rows.Close()
	keys := map[string]bool{}
	var ids []int64
	for rows.Next() {
		var id int64
		var vendor, product string
		if err := rows.Scan(&id, &vendor, &product); err != nil {
			return nil, nil, wrap(err, "read CVE changes")
		}
		ids = append(ids, id)
		keys[vendor+":"+product] = true
	}
	return keys, ids, wrap(rows.Err(), "read CVE changes")
}

// forgetChanges deletes the change rows a scan has handled, by id: rows committed while it ran
// (a sequence hands out ids before commit on PostgreSQL) stay for the next scan.
func (s *Store) forgetChanges(ctx context.Context, ids []int64) error {
	return wrap(s.db.Tx(ctx, func(tx *sql.Tx) error {
		for len(ids) > 0 {
			n := min(len(ids), 500)
			q := (&query{}).add(`DELETE FROM cve_changes WHERE `).inList("id", ids[:n])
			if _, err := tx.ExecContext(ctx, q.String(), q.args...); err != nil {
				return err
			}
			ids = ids[n:]
		}
		return nil
	}), "forget CVE changes")
}

func scanWhere(q *query, orgs []int64, everyAsset bool) {
	if orgs != nil {
		q.add(" AND ").inList("a.organization_id", orgs)
	}
	if !everyAsset {
		q.add(" AND (a.vuln_scanned_at IS NULL OR a.vuln_scanned_at < a.updated_at)")
	}
}

func (s *Store) countScanAssets(ctx context.Context, orgs []int64, everyAsset bool, n *int) error {
	q := (&query{}).add(`SELECT count(*) FROM assets a WHERE 1 = 1`)
	scanWhere(q, orgs, everyAsset)
	return wrap(s.r.QueryRowContext(ctx, q.String(), q.args...).Scan(n), "count assets to scan")
}

func (s *Store) scanAssets(ctx context.Context, orgs []int64, everyAsset bool, after int64) ([]scanAsset, error) {
	q := (&query{}).add(`SELECT a.id, a.organization_id, o.name, a.name, a.status, a.manufacturer, a.model, a.os_name, a.os_version,
		a.firmware_version, a.updated_at, a.vuln_scanned_at FROM assets a JOIN organizations o ON o.id = a.organization_id WHERE a.id > ` + "$1")
	q.args = append(q.args, after)
	scanWhere(q, orgs, everyAsset)
	q.add(fmt.Sprintf(" ORDER BY a.id LIMIT %d", scanBatch))
	rows, err := s.r.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return nil, wrap(err, "read assets to scan")
	}
	defer rows.Close()
	var out []scanAsset
	for rows.Next() {
		var a scanAsset
		f := &a.facts
		if err := rows.Scan(&a.id, &a.org, &a.orgName, &a.name, &a.status, &f.Manufacturer, &f.Model, &f.OSName, &f.OSVersion,
			&f.FirmwareVersion, &a.updatedAt, &a.scannedAt); err != nil {
			return nil, wrap(err, "read assets to scan")
		}
		out = append(out, a)
	}
	return out, wrap(rows.Err(), "read assets to scan")
}

// matcher holds the criteria of the keys seen so far in a scan.
type matcher struct {
	s     *Store
	byKey map[string][]*vuln.Criterion
	wild  []*vuln.Criterion
}

// load reads the criteria of keys not loaded yet, a hundred keys per query.
func (m *matcher) load(ctx context.Context, cands [][]vuln.Candidate) error {
	var missing [][2]string
	for _, cs := range cands {
		for _, c := range cs {
			if _, ok := m.byKey[c.Key()]; !ok {
				m.byKey[c.Key()] = nil
				missing = append(missing, [2]string{c.Vendor, c.Product})
			}
		}
	}
	for len(missing) > 0 {
		n := min(len(missing), 100)
		q := &query{}
		for i, k := range missing[:n] {
			if i > 0 {
				q.add(" OR ")
			}
			q.add("(vendor = " + q.arg(k[0]) + " AND product = " + q.arg(k[1]) + ")")
		}
		cs, err := m.s.loadCriteria(ctx, q.String(), q.args...)
		if err != nil {
			return err
		}
		for _, c := range cs {
			m.byKey[c.Key()] = append(m.byKey[c.Key()], c)
		}
		missing = missing[n:]
	}
	return nil
}

func (s *Store) loadCriteria(ctx context.Context, where string, args ...any) ([]*vuln.Criterion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT cve_id, criteria, version_start_including, version_start_excluding,
		version_end_including, version_end_excluding FROM cve_matches WHERE `+where, args...)
	if err != nil {
		return nil, wrap(err, "read CVE criteria")
	}
	defer rows.Close()
	var out []*vuln.Criterion
	for rows.Next() {
		c := &vuln.Criterion{}
		if err := rows.Scan(&c.CVE, &c.Criteria, &c.StartIncluding, &c.StartExcluding, &c.EndIncluding, &c.EndExcluding); err != nil {
			return nil, wrap(err, "read CVE criteria")
		}
		if c.CPE, err = vuln.ParseCPE(c.Criteria); err != nil {
			continue // stored only after parsing, so never; a hand-edited row is ignored
		}
		out = append(out, c)
	}
	return out, wrap(rows.Err(), "read CVE criteria")
}

type existingFinding struct {
	id      int64
	status  string
	matched string
}

// VulnerabilityFound is the data of vulnerability.found (SPEC §5).
type VulnerabilityFound struct {
	VulnerabilityID int64    `json:"vulnerability_id"`
	CVEID           string   `json:"cve_id"`
	Severity        *string  `json:"severity"`
	CVSSScore       *float64 `json:"cvss_score"`
	AssetID         int64    `json:"asset_id"`
	AssetName       string   `json:"asset_name"`
	Summary         string   `json:"summary"`
}

// applyFindings writes one batch's findings in a transaction: new pairs inserted (one event each),
// resolved ones reopened (an event again), vanished ones resolved, and each asset marked as
// matched at the update time it was read with, so a change made meanwhile is matched next time.
func (s *Store) applyFindings(ctx context.Context, todo []scanAsset, cands [][]vuln.Candidate, m *matcher) (opened, resolved int, err error) {
	if len(todo) == 0 {
		return 0, 0, nil
	}
	ids := make([]int64, len(todo))
	for i, a := range todo {
		ids[i] = a.id
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		opened, resolved = 0, 0
		q := (&query{}).add(`SELECT id, asset_id, cve_id, status, matched FROM vulnerabilities WHERE `).inList("asset_id", ids)
		rows, err := tx.QueryContext(ctx, q.String(), q.args...)
		if err != nil {
			return err
		}
		existing := map[int64]map[string]existingFinding{}
		for rows.Next() {
			var f existingFinding
			var asset int64
			var cve string
			if err := rows.Scan(&f.id, &asset, &cve, &f.status, &f.matched); err != nil {
				rows.Close()
				return err
			}
			if existing[asset] == nil {
				existing[asset] = map[string]existingFinding{}
			}
			existing[asset][cve] = f
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		now := s.Now()
		// New findings are inserted together after the loop (one statement per insertChunk rows),
		// and one webhook lookup per organization serves the whole batch.
		var fresh []newFinding
		ev := findingEvents{s: s, tx: tx, hooks: map[int64][]int64{}}
		for i, a := range todo {
			var found []vuln.Finding
			if a.status != "retired" {
				found = vuln.Match(cands[i], m.byKey, m.wild)
			}
			have := existing[a.id]
			for _, f := range found {
				old, ok := have[f.CVE]
				delete(have, f.CVE)
				switch {
				case !ok:
					fresh = append(fresh, newFinding{asset: i, cve: f.CVE, matched: f.Matched})
				case old.status == "resolved":
					e := VulnerabilityFound{VulnerabilityID: old.id, CVEID: f.CVE, AssetID: a.id, AssetName: a.name}
					var severity string
					if err := tx.QueryRowContext(ctx, `UPDATE vulnerabilities SET status = 'open', resolved_at = NULL, matched = $1,
						updated_at = $2 WHERE id = $3 RETURNING severity, cvss_score, summary`, f.Matched, now, old.id).
						Scan(&severity, &e.CVSSScore, &e.Summary); err != nil {
						return err
					}
					if err := ev.send(ctx, a, e, severity); err != nil {
						return err
					}
					opened++
				case old.matched != f.Matched:
					if _, err := tx.ExecContext(ctx, `UPDATE vulnerabilities SET matched = $1, updated_at = $2 WHERE id = $3`,
						f.Matched, now, old.id); err != nil {
						return err
					}
				}
			}
			for _, old := range have {
				if old.status == "resolved" {
					continue
				}
				if _, err := tx.ExecContext(ctx, `UPDATE vulnerabilities SET status = 'resolved', resolved_at = $1, updated_at = $1
					WHERE id = $2`, now, old.id); err != nil {
					return err
				}
				resolved++
			}
			if !a.scannedAt.Valid || !a.scannedAt.Time.Equal(a.updatedAt.Time) {
				if _, err := tx.ExecContext(ctx, `UPDATE assets SET vuln_scanned_at = $1 WHERE id = $2`, a.updatedAt, a.id); err != nil {
					return err
				}
			}
		}
		for len(fresh) > 0 {
			n := min(len(fresh), insertChunk)
			inserted, err := insertFindings(ctx, tx, todo, fresh[:n], now)
			if err != nil {
				return err
			}
			for _, f := range inserted {
				if err := ev.send(ctx, todo[f.asset], f.event, f.severity); err != nil {
					return err
				}
			}
			opened += len(inserted)
			fresh = fresh[n:]
		}
		return nil
	})
	return opened, resolved, wrap(err, "record findings")
}

// newFinding is a (CVE, asset) pair found for the first time; asset indexes the batch.
type newFinding struct {
	asset        int
	cve, matched string
}

// insertedFinding is a new finding as stored, with its event's data.
type insertedFinding struct {
	asset    int
	event    VulnerabilityFound
	severity string
}

// insertChunk is how many new findings one statement inserts (4 arguments each, well under
// SQLite's 32,766 and PostgreSQL's 65,535).
const insertChunk = 1000

// insertFindings inserts new findings in one statement, the CVE's severity, score and summary
// copied in. A pair another scan inserted meanwhile is left alone, so it sends no second event.
func insertFindings(ctx context.Context, tx *sql.Tx, todo []scanAsset, fresh []newFinding, now time.Time) ([]insertedFinding, error) {
	q := (&query{}).add(`INSERT INTO vulnerabilities (organization_id, asset_id, cve_id, severity, cvss_score, summary, matched,
		published_at, status, first_seen_at, created_at, updated_at)
		SELECT v.column1, v.column2, c.id, c.severity, c.cvss_score, substr(c.description, 1, 1000), v.column4, c.published_at,
		'open', ?, ?, ? FROM (VALUES `, now, now, now)
	for i, f := range fresh {
		if i > 0 {
			q.add(", ")
		}
		a := todo[f.asset]
		q.add("(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT))", a.org, a.id, f.cve, f.matched)
	}
	// WHERE true: SQLite needs it to read ON CONFLICT as the upsert clause after a SELECT.
	q.add(`) AS v JOIN cves c ON c.id = v.column3 WHERE true
		ON CONFLICT (asset_id, cve_id) DO NOTHING RETURNING id, asset_id, cve_id, severity, cvss_score, summary`)
	byID := make(map[int64]int, len(fresh))
	for _, f := range fresh {
		byID[todo[f.asset].id] = f.asset
	}
	rows, err := tx.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []insertedFinding
	for rows.Next() {
		var f insertedFinding
		var assetID int64
		if err := rows.Scan(&f.event.VulnerabilityID, &assetID, &f.event.CVEID, &f.severity, &f.event.CVSSScore, &f.event.Summary); err != nil {
			return nil, err
		}
		f.asset = byID[assetID]
		f.event.AssetID, f.event.AssetName = assetID, todo[f.asset].name
		out = append(out, f)
	}
	return out, rows.Err()
}

// findingEvents sends vulnerability.found for a batch, looking up each organization's subscribed
// webhooks once.
type findingEvents struct {
	s     *Store
	tx    *sql.Tx
	hooks map[int64][]int64
}

func (f *findingEvents) send(ctx context.Context, a scanAsset, e VulnerabilityFound, severity string) error {
	hooks, ok := f.hooks[a.org]
	if !ok {
		var err error
		if hooks, err = subscribedWebhooks(ctx, f.tx, a.org, EventVulnerabilityFound); err != nil {
			return err
		}
		f.hooks[a.org] = hooks
	}
	if len(hooks) == 0 {
		return nil
	}
	if severity != "" {
		e.Severity = &severity
	}
	_, err := f.s.insertEvent(ctx, f.tx, EventOrg{ID: a.org, Name: a.orgName}, EventVulnerabilityFound, e, hooks)
	return err
}

// VulnScan is a requested scan and its progress.
type VulnScan struct {
	ID            int64
	Organizations []int64 // nil: all
	RequestedBy   *int64
	Fetch         bool
	Status        string // queued, running, finished, failed
	CreatedAt     time.Time
	StartedAt     *time.Time
	FinishedAt    *time.Time
	CVEsFetched   int
	VulnScanCounts
	Error string
}

// VulnScanArgs is the job that fetches CVE data (when Fetch) and matches assets.
type VulnScanArgs struct {
	ScanID int64   `json:"scan_id,omitempty"`
	Fetch  bool    `json:"fetch,omitempty"`
	Orgs   []int64 `json:"orgs,omitempty"`
	Full   bool    `json:"full,omitempty"`
}

// Kind names the job.
func (VulnScanArgs) Kind() string { return "vuln.scan" }

// RequestVulnScan records a scan of the caller's organizations where it has
// vulnerabilities.manage and queues it, fetching new CVE data first when fetch is set.
func (s *Store) RequestVulnScan(ctx context.Context, fetch bool) (VulnScan, error) {
	c, err := caller(ctx)
	if err != nil {
		return VulnScan{}, err
	}
	scan := VulnScan{Fetch: fetch, Status: "queued", CreatedAt: s.Now(), RequestedBy: c.ActorID()}
	all, orgs := c.Scope(auth.VulnerabilitiesManage)
	if !all && len(orgs) == 0 {
		return VulnScan{}, apperr.ErrForbidden
	}
	if !all {
		scan.Organizations = orgs
	}
	orgList := ""
	if scan.Organizations != nil {
		b, _ := json.Marshal(scan.Organizations)
		orgList = string(b)
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO vuln_scans (organizations, requested_by, fetch_cves, status, created_at)
			VALUES ($1, $2, $3, 'queued', $4) RETURNING id`, orgList, scan.RequestedBy, fetch, scan.CreatedAt).Scan(&scan.ID); err != nil {
			return err
		}
		return s.enqueuer.InsertTx(ctx, tx, VulnScanArgs{ScanID: scan.ID, Fetch: fetch, Orgs: scan.Organizations, Full: true}, time.Time{})
	})
	return scan, wrap(err, "request scan")
}

// GetVulnScan reads a scan the caller may see: its own, or one of organizations it all reaches.
func (s *Store) GetVulnScan(ctx context.Context, id int64) (VulnScan, error) {
	c, err := caller(ctx)
	if err != nil {
		return VulnScan{}, err
	}
	scan, err := s.vulnScan(ctx, id)
	if err != nil {
		return scan, err
	}
	me := c.ActorID()
	visible := c.AllOrgs() || (scan.RequestedBy != nil && me != nil && *scan.RequestedBy == *me)
	if !visible && scan.Organizations != nil {
		visible = true
		for _, org := range scan.Organizations {
			visible = visible && c.Reaches(org) && c.Can(org, auth.VulnerabilitiesView)
		}
	}
	if !visible {
		return VulnScan{}, apperr.ErrNotFound
	}
	return scan, nil
}

func (s *Store) vulnScan(ctx context.Context, id int64) (VulnScan, error) {
	var v VulnScan
	var orgs string
	err := s.r.QueryRowContext(ctx, `SELECT id, organizations, requested_by, fetch_cves, status, created_at, started_at, finished_at,
		cves_fetched, assets_total, assets_scanned, findings_opened, findings_resolved, error FROM vuln_scans WHERE id = $1`, id).
		Scan(&v.ID, &orgs, &v.RequestedBy, &v.Fetch, &v.Status, &v.CreatedAt, &v.StartedAt, &v.FinishedAt, &v.CVEsFetched,
			&v.AssetsTotal, &v.AssetsScanned, &v.Opened, &v.Resolved, &v.Error)
	if err != nil {
		return v, notFound(err, "get scan")
	}
	if orgs != "" {
		if err := json.Unmarshal([]byte(orgs), &v.Organizations); err != nil {
			return v, wrap(err, "read scan organizations")
		}
	}
	return v, nil
}

// UpdateVulnScan records a scan's progress; finished scans get their end time.
func (s *Store) UpdateVulnScan(ctx context.Context, v VulnScan) error {
	now := s.Now()
	switch v.Status {
	case "running":
		if v.StartedAt == nil {
			v.StartedAt = &now
		}
	case "finished", "failed":
		v.FinishedAt = &now
	}
	return wrap(s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE vuln_scans SET status = $1, started_at = $2, finished_at = $3, cves_fetched = $4,
			assets_total = $5, assets_scanned = $6, findings_opened = $7, findings_resolved = $8, error = $9 WHERE id = $10`,
			v.Status, nullTime(v.StartedAt), nullTime(v.FinishedAt), v.CVEsFetched, v.AssetsTotal, v.AssetsScanned, v.Opened, v.Resolved,
			truncate(v.Error, 2000), v.ID)
		return err
	}), "update scan")
}

// VulnScanFor reads a scan for the worker running it.
func (s *Store) VulnScanFor(ctx context.Context, id int64) (VulnScan, error) {
	return s.vulnScan(ctx, id)
}
