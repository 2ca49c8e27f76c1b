// Package bench holds the benchmarks and the load-test harness: a seeder that fills a normal
// installation with realistic data, a load generator that reports throughput and latency per
// endpoint, and a baseline server that replays the same bytes from memory to show what the machine
// can do at all. cmd/loadtest runs the standard scenario with one command.
package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"clientst0r/internal/app"
	"clientst0r/internal/auth"
	"clientst0r/internal/config"
	"clientst0r/internal/db"
	"clientst0r/internal/store"
)

// MasterKey is the master key of benchmark installations on PostgreSQL, where the application takes
// it from the configuration (CLIENTST0R_MASTER_KEY) instead of generating a key file.
var MasterKey = []byte("clientst0r benchmark master key!")

// Install names the installation to open.
type Install struct {
	DataDir     string // SQLite file and generated master.key
	DatabaseURL string // "" for SQLite in DataDir, or postgres://…
	MasterKey   []byte // nil: the key file on SQLite, MasterKey on PostgreSQL
	// AllowPrivateTargets lets webhooks reach loopback receivers (CLIENTST0R_ALLOW_PRIVATE_TARGETS).
	AllowPrivateTargets bool
}

// Open opens the installation the way the server does (app.Open: migrations and the master key
// canary), so what is benchmarked is a normal installation.
func Open(ctx context.Context, in Install, log *slog.Logger) (*app.App, error) {
	u := in.DatabaseURL
	if u == "" {
		u = "sqlite://" + filepath.Join(in.DataDir, "clientst0r.db")
	}
	dialect, _, err := db.ParseURL(u)
	if err != nil {
		return nil, err
	}
	key := in.MasterKey
	if key == nil && dialect == db.Postgres {
		key = MasterKey
	}
	return app.Open(ctx, config.Config{Addr: "127.0.0.1:0", DataDir: in.DataDir, DatabaseURL: u, Dialect: dialect, MasterKey: key,
		AllowPrivateTargets: in.AllowPrivateTargets}, log)
}

// The seeded accounts. The admin is a superuser; the technician is an editor in a few organizations.
const (
	AdminEmail  = "bench-admin@example.com"
	MemberEmail = "bench-tech@example.com"
	password    = "benchmark password, never used to sign in"
)

// SeedConfig sizes the seeded data.
type SeedConfig struct {
	Orgs, Assets int
	Users        int // accounts in all, including the admin and the technician (at least 2)
	MemberOrgs   int // organizations the technician belongs to
	Keys         int // keys per account for the load generator, which rotates through them
	Seed         uint64
	Progress     io.Writer // nil: quiet
}

// Seeded is what the load generator needs from a seeded installation.
type Seeded struct {
	Reused     bool          // the data was there already
	Took       time.Duration // seeding time; 0 when reused
	Orgs       []int64
	MemberOrgs []int64
	Assets     int
	// SuperKeys belong to the admin, MemberKeys to the technician; all have store.MaxRateLimit.
	SuperKeys, MemberKeys []string
}

// Prepare seeds the installation unless it is seeded already (seed false: never seed, fail instead),
// then creates fresh keys: keys are stored only as digests, so a reused installation cannot give
// back the old ones.
func Prepare(ctx context.Context, a *app.App, cfg SeedConfig, seed bool) (*Seeded, error) {
	sys := auth.WithCaller(ctx, auth.System())
	s := &Seeded{}
	admin, err := userID(ctx, a.DB, AdminEmail)
	switch {
	case err == nil:
		s.Reused = true
	case err != sql.ErrNoRows:
		return nil, err
	case !seed:
		return nil, fmt.Errorf("this installation has no benchmark data (no user %s); seed it first", AdminEmail)
	default:
		start := time.Now()
		if err := Seed(sys, a, cfg); err != nil {
			return nil, fmt.Errorf("seed (start again with a fresh data dir or database): %w", err)
		}
		s.Took = time.Since(start)
		if admin, err = userID(ctx, a.DB, AdminEmail); err != nil {
			return nil, err
		}
	}
	member, err := userID(ctx, a.DB, MemberEmail)
	if err != nil {
		return nil, err
	}
	if s.Orgs, err = ids(ctx, a.DB, `SELECT id FROM organizations ORDER BY id`); err != nil {
		return nil, err
	}
	if s.MemberOrgs, err = ids(ctx, a.DB, `SELECT organization_id FROM memberships WHERE user_id = $1 ORDER BY 1`, member); err != nil {
		return nil, err
	}
	if err := a.DB.R.QueryRowContext(ctx, `SELECT count(*) FROM assets`).Scan(&s.Assets); err != nil {
		return nil, err
	}
	stamp := time.Now().UTC().Format("2006-01-02 15:04:05")
	for i := range max(1, cfg.Keys) {
		for _, k := range []struct {
			user int64
			out  *[]string
		}{{admin, &s.SuperKeys}, {member, &s.MemberKeys}} {
			_, plain, err := a.Store.CreateAPIKey(sys, store.NewKey{UserID: k.user, RateLimit: store.MaxRateLimit,
				Name: fmt.Sprintf("loadtest %s #%d", stamp, i+1)})
			if err != nil {
				return nil, fmt.Errorf("create key: %w", err)
			}
			*k.out = append(*k.out, plain)
		}
	}
	return s, nil
}

// Seed creates the accounts and organizations through the store, as an operator would, then
// bulk-inserts the assets with SQL: through the store each would be a transaction with an audit
// row, hours for the standard size.
func Seed(sys context.Context, a *app.App, cfg SeedConfig) error {
	st := a.Store
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	logf := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}
	admin, err := st.CreateUser(sys, store.User{Email: AdminEmail, Name: "Benchmark Admin", IsSuperuser: true}, password)
	if err != nil {
		return err
	}
	if _, err := st.CreateUser(sys, store.User{Email: MemberEmail, Name: "Benchmark Technician"}, password); err != nil {
		return err
	}
	clients := make([]client, cfg.Orgs)
	for i := range clients {
		o, err := st.CreateOrganization(sys, store.Organization{Name: orgName(i), IsActive: true,
			Description: "Managed client since " + strconv.Itoa(2012+i%13) + "."})
		if err != nil {
			return err
		}
		clients[i] = client{ID: o.ID, Index: i, Prefix: hostPrefix(o.Slug)}
	}
	logf("  %d organizations", len(clients))
	// The technician's organizations are spread over the list, so they differ in size.
	for i := range min(cfg.MemberOrgs, len(clients)) {
		if _, err := st.AddMember(sys, clients[i*len(clients)/cfg.MemberOrgs].ID, MemberEmail, "editor"); err != nil {
			return err
		}
	}
	// Colleagues, so memberships look like a real MSP's: a few organizations each, mixed roles.
	for u := 2; u < cfg.Users; u++ {
		email := fmt.Sprintf("tech%02d@example.com", u)
		if _, err := st.CreateUser(sys, store.User{Email: email, Name: fmt.Sprintf("Technician %d", u)}, password); err != nil {
			return err
		}
		for range 1 + rng.IntN(6) {
			role := oneOf(rng, []string{"editor", "editor", "readonly", "admin"})
			if _, err := st.AddMember(sys, oneOf(rng, clients).ID, email, role); err != nil {
				return err
			}
		}
	}
	logf("  %d users", max(cfg.Users, 2))
	return insertAssets(sys, a.DB, clients, spread(rng, cfg.Assets, len(clients)), cfg.Seed, &admin.ID, logf)
}

// spread divides total assets over n organizations unevenly, as clients differ in size (from a
// quarter of the mean to several times it).
func spread(rng *rand.Rand, total, n int) []int {
	if n == 0 {
		return nil
	}
	w := make([]float64, n)
	sum := 0.0
	for i := range w {
		w[i] = 0.25 + rng.ExpFloat64()
		sum += w[i]
	}
	counts, given := make([]int, n), 0
	for i := range w {
		counts[i] = int(float64(total) * w[i] / sum)
		given += counts[i]
	}
	for i := 0; given < total; i, given = (i+1)%n, given+1 {
		counts[i]++
	}
	return counts
}

// assetColumns are the columns written for a seeded asset, in the order of assetValues
// (see internal/db/migrations/*/00002_assets.sql; search_text is generated).
var assetColumns = strings.Fields(`id organization_id name asset_type status asset_tag serial_number manufacturer model
	hostname ip_address mac_address os_name os_version firmware_version cpu ram_gb storage purchase_date warranty_expiry
	latitude longitude notes custom_fields source online last_seen_at created_by created_at updated_at`)

func assetValues(a *store.Asset) []any {
	return []any{a.ID, a.OrgID, a.Name, a.AssetType, a.Status, a.AssetTag, a.SerialNumber, a.Manufacturer, a.Model,
		a.Hostname, a.IPAddress, a.MACAddress, a.OSName, a.OSVersion, a.FirmwareVersion, a.CPU, a.RAMGB, a.Storage,
		a.PurchaseDate, a.WarrantyExpiry, a.Latitude, a.Longitude, a.Notes, a.CustomFields, a.Source, a.Online,
		a.LastSeenAt, a.CreatedBy, a.CreatedAt, a.UpdatedAt}
}

const (
	rowsPerInsert = 200    // × 30 columns = 6,000 parameters, well within both databases' limits
	rowsPerTx     = 10_000 // large transactions: the cost of a commit is paid rarely
)

// insertAssets writes counts[i] assets for clients[i] in large transactions on the writer. Ids are
// assigned here, so the tags can be written without reading ids back; each organization has its
// own random stream, so the data depends only on the seed and the sizes.
func insertAssets(ctx context.Context, d *db.DB, clients []client, counts []int, seed uint64, creator *int64,
	logf func(string, ...any)) error {
	var next int64
	if err := d.W.QueryRowContext(ctx, `SELECT COALESCE(max(id), 0) + 1 FROM assets`).Scan(&next); err != nil {
		return err
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	now, start, done := time.Now(), time.Now(), 0
	batch := make([]store.Asset, 0, rowsPerTx)
	flush := func() error {
		if err := d.Tx(ctx, func(tx *sql.Tx) error { return insertBatch(ctx, tx, d.Dialect, batch) }); err != nil {
			return err
		}
		done += len(batch)
		batch = batch[:0]
		logf("  assets %d/%d (%.0f/s)", done, total, float64(done)/time.Since(start).Seconds())
		return nil
	}
	for ci, c := range clients {
		rng := rand.New(rand.NewPCG(seed, uint64(c.ID)))
		for i := range counts[ci] {
			a := newAsset(rng, c, i, now, creator)
			a.ID, next = next, next+1
			if batch = append(batch, a); len(batch) == rowsPerTx {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	if d.Dialect == db.Postgres {
		// Explicit ids do not advance the identity sequence; API creates would collide without this.
		// ANALYZE stands in for the autovacuum that would follow such a load in a live installation.
		if _, err := d.W.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('assets', 'id'), (SELECT max(id) FROM assets))`); err != nil {
			return err
		}
		if _, err := d.W.ExecContext(ctx, `ANALYZE`); err != nil {
			return err
		}
	}
	return nil
}

func insertBatch(ctx context.Context, tx *sql.Tx, dialect db.Dialect, batch []store.Asset) error {
	var tags []any
	for lo := 0; lo < len(batch); lo += rowsPerInsert {
		rows := batch[lo:min(lo+rowsPerInsert, len(batch))]
		args := make([]any, 0, len(rows)*len(assetColumns))
		for i := range rows {
			args = append(args, assetValues(&rows[i])...)
			for _, t := range rows[i].Tags {
				tags = append(tags, rows[i].ID, t)
			}
		}
		if _, err := tx.ExecContext(ctx, insertSQL(dialect, "assets", assetColumns, len(rows)), args...); err != nil {
			return fmt.Errorf("insert assets: %w", err)
		}
	}
	const tagsPerInsert = 1000
	for lo := 0; lo < len(tags); lo += 2 * tagsPerInsert {
		args := tags[lo:min(lo+2*tagsPerInsert, len(tags))]
		if _, err := tx.ExecContext(ctx, insertSQL(dialect, "asset_tags", []string{"asset_id", "tag"}, len(args)/2), args...); err != nil {
			return fmt.Errorf("insert asset tags: %w", err)
		}
	}
	return nil
}

// insertSQL renders a multi-row INSERT. SQLite gets anonymous ? placeholders: it looks $N names up
// in a list, quadratic in thousands of parameters (most of the seeding time with $N).
func insertSQL(dialect db.Dialect, table string, cols []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	n := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			n++
			if dialect == db.SQLite {
				b.WriteByte('?')
			} else {
				b.WriteString("$" + strconv.Itoa(n))
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

func userID(ctx context.Context, d *db.DB, email string) (int64, error) {
	var id int64
	err := d.R.QueryRowContext(ctx, `SELECT id FROM users WHERE email = $1`, email).Scan(&id)
	return id, err
}

func ids(ctx context.Context, d *db.DB, q string, args ...any) ([]int64, error) {
	rows, err := d.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// AssetIDs returns the ids of the assets in orgs (all assets when orgs is nil), for detail requests.
func AssetIDs(ctx context.Context, d *db.DB, orgs []int64) ([]int64, error) {
	if orgs == nil {
		return ids(ctx, d, `SELECT id FROM assets`)
	}
	ph, args := make([]string, len(orgs)), make([]any, len(orgs))
	for i, o := range orgs {
		ph[i], args[i] = "$"+strconv.Itoa(i+1), o
	}
	return ids(ctx, d, `SELECT id FROM assets WHERE organization_id IN (`+strings.Join(ph, ", ")+`)`, args...)
}
