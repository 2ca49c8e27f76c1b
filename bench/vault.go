package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"clientst0r/internal/app"
	"clientst0r/internal/db"
	"clientst0r/internal/jobs"
	"clientst0r/internal/vault"
)

// The vault scenario: reveal latency under load (each reveal is a transaction that writes an
// audit row before it answers) and a full breach scan against a fake range API.

// VaultOwnerEmail owns the vault scenario's organization, VaultOrg.
const (
	VaultOwnerEmail = "vault-owner@example.com"
	VaultOrg        = "Vault Benchmark Client"
)

// VaultConfig sizes the vault scenario.
type VaultConfig struct {
	Entries     int // seeded when the organization has none
	Distinct    int // distinct password values; 0: 60% of Entries, so many entries share one
	Concurrency int
	Duration    time.Duration // measured reveal load
	Warmup      time.Duration // unmeasured reveal load before it
	Keys        int           // reveal keys; workers rotate through them (per-key rate limits)
	Parallel    int           // the scanner's concurrent range requests (the job queue uses 8)
	Chunk       int           // the scanner's chunk (the job queue uses 200,000)
	Seed        uint64
	Progress    io.Writer // nil: quiet
}

// VaultResult is what the scenario measured and found wrong.
type VaultResult struct {
	Seeded   bool          // false: the entries were there already
	SeedTook time.Duration // 0 when reused
	// Entries is every vault entry with a password in the installation (the scan reads them all);
	// Distinct their distinct values; Prefixes the range requests a scan must make.
	Entries, Distinct, Prefixes int
	WantBreached                int // entries whose value the fake service reports
	Reveal                      Result
	Checked                     int64 // reveal answers compared with the plaintext
	Audited                     int64 // reveal rows the measured run added to the audit log
	Scan                        jobs.ScanStats
	ScanErr                     error
	ScanPeak                    int64 // peak resident bytes of the process during the scan; 0: unknown
	Server                      HIBPCounts
	BreachedRows, ErrorRows     int // breach_status after the scan
	Problems                    []string
}

// RunVault seeds the vault (unless seeded), loads the reveal endpoint, then scans for breaches.
func RunVault(ctx context.Context, a *app.App, cfg VaultConfig) (*VaultResult, error) {
	logf := progress(cfg.Progress)
	cfg.Keys, cfg.Parallel, cfg.Chunk = max(cfg.Keys, 1), max(cfg.Parallel, 1), max(cfg.Chunk, 1000)
	if cfg.Distinct <= 0 {
		cfg.Distinct = max(cfg.Entries*6/10, 1)
	}
	orgID, uid, keys, err := owner(ctx, a, VaultOwnerEmail, VaultOrg, cfg.Keys, true)
	if err != nil {
		return nil, err
	}
	mk, err := masterKeyOf(a)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	kr, err := vault.Open(ctx, a.DB.W, mk, time.Now())
	if err != nil {
		return nil, err
	}
	res := &VaultResult{}
	var have int
	if err := a.DB.R.QueryRowContext(ctx, `SELECT count(*) FROM passwords WHERE organization_id = $1`, orgID).Scan(&have); err != nil {
		return nil, err
	}
	if have == 0 {
		start := time.Now()
		if err := seedVault(ctx, a.DB, kr, orgID, uid, cfg, logf); err != nil {
			return nil, fmt.Errorf("seed the vault (start again with a fresh data dir or database): %w", err)
		}
		res.Seeded, res.SeedTook = true, time.Since(start)
	} else {
		logf("reusing %d vault entries", have)
	}

	// What to expect, read back and decrypted independently of the application's keyring.
	all, err := loadVault(ctx, a.DB, kr)
	if err != nil {
		return nil, err
	}
	res.Entries = len(all)
	url, stop, err := Serve(a)
	if err != nil {
		return nil, err
	}
	defer stop()
	if err := a.Queue.Start(ctx); err != nil { // a live server's background work runs too
		return nil, fmt.Errorf("start job queue: %w", err)
	}
	defer a.Queue.Stop(context.Background())

	if err := runReveal(ctx, a.DB, res, Target{URL: url, Keys: keys, Client: NewClient(cfg.Concurrency)}, all, orgID, cfg, logf); err != nil {
		return nil, err
	}
	runScan(ctx, a, res, all, cfg, logf)
	return res, ctx.Err()
}

// entry is one vault entry with its plaintext.
type entry struct {
	id, org int64
	value   string
}

func runReveal(ctx context.Context, d *db.DB, res *VaultResult, t Target, all []entry, org int64, cfg VaultConfig,
	logf func(string, ...any)) error {
	var paths []string
	want := map[string]string{}
	for _, e := range all {
		if e.org == org {
			p := "/api/passwords/" + strconv.FormatInt(e.id, 10) + "/reveal/"
			paths, want[p] = append(paths, p), e.value
		}
	}
	if len(paths) == 0 {
		return fmt.Errorf("organization %d has no vault entries to reveal", org)
	}
	var calls, checked atomic.Int64
	reveal := Endpoint{Name: "reveal", Method: "POST", Want: 200,
		Path: func(rng *rand.Rand) string { return oneOf(rng, paths) },
		// One answer in eight is compared: enough to catch a wrong row or binding, while the load
		// generator, which shares the machine with the server, spends its time sending.
		Check: func(path string, body []byte) error {
			if calls.Add(1)%8 != 1 {
				return nil
			}
			var v struct{ Password *string }
			if err := json.Unmarshal(body, &v); err != nil || v.Password == nil {
				return fmt.Errorf("reveal %s: no password in %.200s", path, body)
			}
			if *v.Password != want[path] {
				return fmt.Errorf("reveal %s: wrong plaintext", path)
			}
			checked.Add(1)
			return nil
		}}
	audited := func() (n int64) {
		if err := d.R.QueryRowContext(ctx, `SELECT count(*) FROM audit_log WHERE action = 'reveal'`).Scan(&n); err != nil {
			res.Problems = append(res.Problems, "count audit rows: "+err.Error())
		}
		return n
	}
	// Every answered reveal is on record: an audit row each (a failed check may still have one).
	onRecord := func(what string, r Result, rows int64) {
		if ok := r.Requests - r.Errors; rows < ok || rows > r.Requests {
			res.Problems = append(res.Problems, fmt.Sprintf("%s: %d audit rows for %d successful reveals", what, rows, ok))
		}
	}
	if cfg.Warmup > 0 {
		logf("reveal: warming up for %s", cfg.Warmup)
		before := audited()
		warm := Run(ctx, t, reveal, cfg.Concurrency, cfg.Warmup)
		onRecord("reveal warm-up", warm, audited()-before)
	}
	logf("reveal: %d entries, concurrency %d, %s", len(paths), cfg.Concurrency, cfg.Duration)
	checked.Store(0)
	before := audited()
	res.Reveal = Run(ctx, t, reveal, cfg.Concurrency, cfg.Duration)
	res.Audited = audited() - before
	res.Checked = checked.Load()
	if r := res.Reveal; r.Errors > 0 || r.Requests == 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("reveal: %d requests, %d errors; first: %s", r.Requests, r.Errors, r.FirstError))
	}
	onRecord("reveal", res.Reveal, res.Audited)
	return nil
}

// runScan scans the whole vault against a fake range service that knows the breached values, and
// checks the scan asked once per distinct prefix (per chunk) and found exactly those entries.
func runScan(ctx context.Context, a *app.App, res *VaultResult, all []entry, cfg VaultConfig, logf func(string, ...any)) {
	hashes := map[string]string{} // value → SHA-1
	breached := map[string]int{}  // SHA-1 → count, for the fake service
	prefixes := map[string]bool{}
	wantRequests := 0
	// The scanner reads entries in id order, 1,000 at a time, and looks a chunk up once it holds
	// at least Chunk entries: prefixes repeat across chunks only. all is in id order too.
	chunk := (cfg.Chunk + 999) / 1000 * 1000
	inChunk := map[string]bool{}
	for i, e := range all {
		h, ok := hashes[e.value]
		if !ok {
			h = vault.SHA1(e.value)
			hashes[e.value] = h
			if breachedHash(h) {
				breached[h] = 1 + len(breached) // any positive count
			}
		}
		prefixes[h[:5]] = true
		inChunk[h[:5]] = true
		if _, ok := breached[h]; ok {
			res.WantBreached++
		}
		if (i+1)%chunk == 0 || i == len(all)-1 {
			wantRequests += len(inChunk)
			clear(inChunk)
		}
	}
	res.Distinct, res.Prefixes = len(hashes), len(prefixes)

	fake := NewFakeHIBP(breached)
	defer fake.Close()
	scanner := jobs.BreachScanner{Store: a.Store, Parallel: cfg.Parallel, Chunk: cfg.Chunk,
		Client: &vault.RangeClient{Base: fake.URL, Client: http.DefaultClient, Agent: "bench"}}
	logf("breach scan: %d entries, %d distinct values, %d distinct prefixes, %d breached", len(all), len(hashes),
		len(prefixes), res.WantBreached)
	// The peak resident memory of the scan: what came before is returned to the OS first.
	runtime.GC()
	debug.FreeOSMemory()
	peakOK := ResetPeak() == nil
	res.Scan, res.ScanErr = scanner.Scan(ctx)
	if m, err := ReadMem(); err == nil && peakOK {
		res.ScanPeak = m.Peak
	}
	if res.ScanErr != nil {
		res.Problems = append(res.Problems, "breach scan: "+res.ScanErr.Error())
	}
	res.Server = fake.Counts()
	err := a.DB.R.QueryRowContext(ctx, `SELECT
		COALESCE(sum(CASE WHEN breach_status = 'breached' THEN 1 ELSE 0 END), 0),
		COALESCE(sum(CASE WHEN breach_status = 'error' THEN 1 ELSE 0 END), 0)
		FROM passwords WHERE password_ct IS NOT NULL`).Scan(&res.BreachedRows, &res.ErrorRows)
	if err != nil {
		res.Problems = append(res.Problems, "count breach statuses: "+err.Error())
	}
	st, srv := res.Scan, res.Server
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"entries scanned", st.Entries, len(all)},
		{"range requests (scanner)", st.Requests, wantRequests},
		{"range requests (server)", srv.Requests, wantRequests},
		{"distinct prefixes asked (server)", srv.Prefixes, len(prefixes)},
		{"requests with Add-Padding", srv.Padded, srv.Requests},
		{"breached found", st.Breached, res.WantBreached},
		{"entries marked breached", res.BreachedRows, res.WantBreached},
		{"scan errors", st.Errors, 0},
		{"entries marked error", res.ErrorRows, 0},
	} {
		if c.got != c.want {
			res.Problems = append(res.Problems, fmt.Sprintf("breach scan: %s %d, want %d", c.what, c.got, c.want))
		}
	}
}

// breachedHash decides which values the fake service reports: about 1% of them, by their hash,
// so the choice needs no state and holds for a reused installation too.
func breachedHash(h string) bool {
	n, _ := strconv.ParseUint(h[:8], 16, 32)
	return n%100 == 0
}

// vaultService is a kind of credential an MSP keeps for a client.
type vaultService struct{ title, ptype, url, user string }

var vaultServices = []vaultService{
	{"Microsoft 365 global admin", "website", "https://admin.microsoft.com", "admin@client.onmicrosoft.com"},
	{"Domain administrator", "windows_ad", "", `CORP\administrator`},
	{"FortiGate firewall", "network_device", "https://10.20.0.1", "admin"},
	{"UniFi controller", "network_device", "https://unifi.client.local:8443", "ubnt"},
	{"Synology NAS", "server", "https://nas.client.local:5001", "admin"},
	{"SQL Server sa", "database", "", "sa"},
	{"Backup service account", "windows_ad", "", "svc-backup"},
	{"Guest Wi-Fi", "wifi", "", "guest"},
	{"QuickBooks Online", "website", "https://qbo.intuit.com", "accounting@client.example"},
	{"Cisco switch enable", "network_device", "ssh://10.20.0.2", "cisco"},
	{"VPN user", "vpn", "vpn.client.example", "remote"},
	{"ESXi root", "server", "https://esxi.client.local", "root"},
	{"Shared mailbox", "email", "https://outlook.office.com", "info@client.example"},
	{"Vendor portal API key", "api_key", "https://portal.vendor.example", "api"},
	{"Line-of-business app", "software_license", "", "licensing"},
}

var passwordWords = strings.Fields(`amber anchor apple atlas badger beacon birch canyon cedar cobalt comet copper coral
	delta ember falcon fern galaxy granite harbor hazel indigo iris jasper juniper kestrel lagoon lantern maple meadow
	nebula nickel oak onyx orbit otter pepper pine quartz raven river saffron sierra silver spruce summit thunder tiger
	topaz tundra velvet violet walnut willow winter zephyr`)

// passwordValue is the v-th distinct value: a mix of generated passwords and the human-made kinds
// (words and numbers). The index is part of the human-made ones, so values differ.
func passwordValue(seed uint64, v int) string {
	rng := rand.New(rand.NewPCG(seed, 0x7a57+uint64(v)))
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!@#$%&*-_=+?"
	switch k := rng.IntN(10); {
	case k < 4:
		b := make([]byte, 16+rng.IntN(9))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	case k < 7:
		return fmt.Sprintf("%s-%s-%d%c", oneOf(rng, passwordWords), oneOf(rng, passwordWords), v, "!#$%&*?"[rng.IntN(7)])
	default:
		w := oneOf(rng, passwordWords)
		return fmt.Sprintf("%s%s%d!%d", strings.ToUpper(w[:1]), w[1:], 2015+rng.IntN(11), v)
	}
}

const vaultColumns = "id organization_id title username url password_type password_ct notes_ct created_by created_at updated_at"

// seedVault bulk-inserts the entries in large transactions on the writer, each password (and note)
// sealed as the store seals it: bound to table, column, organization and row. Ids are assigned
// here, as for the seeded assets, so each row's binding is known before it is written and rows go
// in multi-row INSERTs instead of an INSERT … RETURNING and an UPDATE each.
func seedVault(ctx context.Context, d *db.DB, kr *vault.Keyring, org, creator int64, cfg VaultConfig, logf func(string, ...any)) error {
	var next int64
	if err := d.W.QueryRowContext(ctx, `SELECT COALESCE(max(id), 0) + 1 FROM passwords`).Scan(&next); err != nil {
		return err
	}
	cols := strings.Fields(vaultColumns)
	values := make([]string, cfg.Distinct) // drawn once: many entries share them
	for v := range values {
		values[v] = passwordValue(cfg.Seed, v)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(org)))
	now, start := time.Now(), time.Now()
	rows := make([]any, 0, rowsPerTx*len(cols))
	flush := func(done int) error {
		err := d.Tx(ctx, func(tx *sql.Tx) error {
			per := 500 * len(cols) // 5,500 parameters a statement
			for lo := 0; lo < len(rows); lo += per {
				args := rows[lo:min(lo+per, len(rows))]
				if _, err := tx.ExecContext(ctx, insertSQL(d.Dialect, "passwords", cols, len(args)/len(cols)), args...); err != nil {
					return fmt.Errorf("insert passwords: %w", err)
				}
			}
			return nil
		})
		rows = rows[:0]
		logf("  vault entries %d/%d (%.0f/s)", done, cfg.Entries, float64(done)/time.Since(start).Seconds())
		return err
	}
	for k := range cfg.Entries {
		// Every value is used once, then the rest are shared, the low-numbered ones most (a few
		// passwords reused everywhere, most reused a little).
		v := k
		if k >= cfg.Distinct {
			u := rng.Float64()
			v = int(float64(cfg.Distinct) * u * u)
		}
		id := next
		next++
		svc := oneOf(rng, vaultServices)
		bind := func(col string) vault.Binding {
			return vault.Binding{Table: "passwords", Column: col, Org: org, Row: id}
		}
		var notes any // NULL, as the store writes an empty note
		if rng.IntN(5) == 0 {
			notes = kr.Seal(fmt.Appendf(nil, "Rotated %s; see ticket #%d.", now.AddDate(0, 0, -rng.IntN(400)).Format("2006-01-02"),
				10000+rng.IntN(90000)), bind("notes_ct"))
		}
		created := db.Time(now.Add(-time.Duration(rng.IntN(3*365*24)) * time.Hour))
		rows = append(rows, id, org, fmt.Sprintf("%s #%d", svc.title, k+1), svc.user, svc.url, svc.ptype,
			kr.Seal([]byte(values[v]), bind("password_ct")), notes, creator, created, created)
		if len(rows) == rowsPerTx*len(cols) {
			if err := flush(k + 1); err != nil {
				return err
			}
		}
	}
	if len(rows) > 0 {
		if err := flush(cfg.Entries); err != nil {
			return err
		}
	}
	if d.Dialect == db.Postgres {
		// Explicit ids do not advance the identity sequence; ANALYZE stands in for autovacuum.
		if _, err := d.W.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('passwords', 'id'), (SELECT max(id) FROM passwords))`); err != nil {
			return err
		}
		if _, err := d.W.ExecContext(ctx, `ANALYZE passwords`); err != nil {
			return err
		}
	}
	return nil
}

// loadVault reads every entry with a password, in id order, and decrypts it with kr.
func loadVault(ctx context.Context, d *db.DB, kr *vault.Keyring) ([]entry, error) {
	rows, err := d.R.QueryContext(ctx, `SELECT id, organization_id, password_ct FROM passwords WHERE password_ct IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []entry
	for rows.Next() {
		var e entry
		var ct []byte
		if err := rows.Scan(&e.id, &e.org, &ct); err != nil {
			return nil, err
		}
		plain, err := kr.OpenCT(ctx, ct, vault.Binding{Table: "passwords", Column: "password_ct", Org: e.org, Row: e.id})
		if err != nil {
			return nil, fmt.Errorf("password of entry %d: %w", e.id, err)
		}
		e.value = string(plain)
		out = append(out, e)
	}
	return out, rows.Err()
}

func progress(w io.Writer) func(string, ...any) {
	return func(format string, args ...any) {
		if w != nil {
			fmt.Fprintf(w, format+"\n", args...)
		}
	}
}

// ReportVault prints the scenario's two tables and what was wrong.
func ReportVault(w io.Writer, r *VaultResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	rv := &r.Reveal
	fmt.Fprintln(tw, "reveal\trequests\treq/s\tp50\tp99\terrors\tchecked\taudit rows\t")
	fmt.Fprintf(tw, "POST /api/passwords/{id}/reveal/\t%d\t%.0f\t%s\t%s\t%d\t%d\t%d\t\n", rv.Requests, rv.Rate(),
		ms(rv.Latency.Quantile(0.5)), ms(rv.Latency.Quantile(0.99)), rv.Errors, r.Checked, r.Audited)
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	st, srv := r.Scan, r.Server
	fmt.Fprintln(tw, "breach scan\tentries\tdistinct values\tdistinct prefixes\trequests (scan)\trequests (server)\tbreached\terrors\tseconds\tentries/s\t")
	fmt.Fprintf(tw, "BreachScanner.Scan\t%d\t%d\t%d\t%d\t%d\t%d of %d\t%d\t%.1f\t%.0f\t\n", st.Entries, r.Distinct, r.Prefixes,
		st.Requests, srv.Requests, st.Breached, r.WantBreached, st.Errors, st.Took.Seconds(), float64(st.Entries)/max(st.Took.Seconds(), 1e-9))
	tw.Flush()
	fmt.Fprintf(w, "fake range service: %d connections for %d requests\n", srv.Conns, srv.Requests)
	if r.ScanPeak > 0 {
		fmt.Fprintf(w, "peak resident memory during the scan (VmHWM; the server, the scanner and the fake service): %.0f MiB\n",
			float64(r.ScanPeak)/(1<<20))
	}
	for _, p := range r.Problems {
		fmt.Fprintln(w, "PROBLEM:", p)
	}
}
