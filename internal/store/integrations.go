package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/db"
	"clientst0r/internal/list"
	"clientst0r/internal/vault"
)

// IntegrationProviders are the RMM providers (SPEC §4), with their credential fields; a trailing
// "?" marks an optional one.
var IntegrationProviders = map[string][]string{
	"connectwise_automate": {"username", "password", "client_id", "two_factor_code?"},
	"datto_rmm":            {"api_key", "api_secret"},
	"ninjaone":             {"client_id", "client_secret"},
	"syncro":               {"api_token"},
}

// ProviderNames lists the providers in a stable order.
var ProviderNames = []string{"connectwise_automate", "datto_rmm", "ninjaone", "syncro"}

// Integration is a connection to an RMM.
type Integration struct {
	Scoped
	Name                string
	Provider            string
	BaseURL             string
	SyncIntervalMinutes int
	Enabled             bool
	// Mapping maps the vendor's client/site/organization/customer id to an organization id.
	Mapping        map[string]int64
	DefaultOrgID   *int64
	LastSyncAt     *time.Time
	LastSyncStatus string
	HasCredentials bool
	// SetCredentials replaces the stored credentials when not nil (write-only).
	SetCredentials map[string]string
}

// IntegrationSpec declares the integrations list.
var IntegrationSpec = list.Spec{
	DefaultOrder: "name",
	OrgScoped:    true,
	Fields: []list.Field{
		{Name: "id", Column: "i.id", Kind: list.Int, Order: true},
		{Name: "organization", Column: "i.organization_id", Kind: list.Int, Order: true},
		{Name: "name", Column: "i.name", Order: true},
		{Name: "provider", Column: "i.provider", Kind: list.Enum, Enum: ProviderNames, Filter: true, Order: true},
		{Name: "enabled", Column: "i.enabled", Kind: list.Bool, Filter: true, Order: true},
		{Name: "last_sync_at", Column: "i.last_sync_at", Kind: list.Time, Order: true, Nullable: true},
		{Name: "last_sync_status", Column: "i.last_sync_status", Filter: true, Order: true},
		{Name: "created_at", Column: "i.created_at", Kind: list.Time, Order: true},
		{Name: "updated_at", Column: "i.updated_at", Kind: list.Time, Order: true},
	},
}

var integrations = &kind[Integration, *Integration]{
	table: "integrations", alias: "i", object: "integration", spec: &IntegrationSpec,
	cols: []string{"name", "provider", "base_url", "sync_interval_minutes", "enabled", "organization_mapping", "default_organization_id"},
	values: func(i *Integration) []any {
		m, _ := json.Marshal(i.Mapping)
		return []any{i.Name, i.Provider, i.BaseURL, i.SyncIntervalMinutes, i.Enabled, string(m), i.DefaultOrgID}
	},
	selectCols: `i.name, i.provider, i.base_url, i.sync_interval_minutes, i.enabled, i.organization_mapping,
		i.default_organization_id, i.last_sync_at, i.last_sync_status, (i.credentials IS NOT NULL)`,
	dest: func(i *Integration) []any {
		return []any{&i.Name, &i.Provider, &i.BaseURL, &i.SyncIntervalMinutes, &i.Enabled, (*jsonMapping)(&i.Mapping),
			&i.DefaultOrgID, &i.LastSyncAt, &i.LastSyncStatus, &i.HasCredentials}
	},
	view: auth.IntegrationsView, create: auth.IntegrationsManage, edit: auth.IntegrationsManage, remove: auth.IntegrationsManage,
	prepare: prepareIntegration,
	fields: func(i *Integration) map[string]any {
		m, _ := json.Marshal(i.Mapping)
		def := ""
		if i.DefaultOrgID != nil {
			def = strconv.FormatInt(*i.DefaultOrgID, 10)
		}
		return map[string]any{"name": i.Name, "provider": i.Provider, "base_url": i.BaseURL, "sync_interval_minutes": i.SyncIntervalMinutes,
			"enabled": i.Enabled, "organization_mapping": string(m), "default_organization": def, "credentials": i.SetCredentials != nil}
	},
	repr:    func(i *Integration) string { return i.Name },
	written: integrationWritten,
}

// jsonMapping reads organization_mapping.
type jsonMapping map[string]int64

func (j *jsonMapping) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("store: cannot read %T as a mapping", src)
	}
	m := map[string]int64{}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*j = m
	return nil
}

func prepareIntegration(ctx context.Context, q queryer, c *auth.Caller, i *Integration) error {
	errs := apperr.FieldErrors{}
	i.Name = strings.TrimSpace(i.Name)
	if i.Name == "" || utf8.RuneCountInString(i.Name) > 100 {
		errs.Add("name", "Give the integration a name of 1 to 100 characters.")
	}
	fields, known := IntegrationProviders[i.Provider]
	if !known {
		errs.Add("provider", fmt.Sprintf("Choose one of %s.", strings.Join(ProviderNames, ", ")))
	}
	i.BaseURL = strings.TrimSuffix(strings.TrimSpace(i.BaseURL), "/")
	if u, err := url.Parse(i.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		errs.Add("base_url", "Enter the vendor host root: scheme and host (and port), no API path, e.g. https://app.ninjarmm.com.")
	}
	i.SyncIntervalMinutes = cmpOrInt(i.SyncIntervalMinutes, 60)
	checkInt(errs, "sync_interval_minutes", i.SyncIntervalMinutes, 15, 7*24*60)
	if i.SetCredentials != nil && known {
		var missing, unknown []string
		for _, f := range fields {
			if !strings.HasSuffix(f, "?") && strings.TrimSpace(i.SetCredentials[f]) == "" {
				missing = append(missing, f)
			}
		}
		for k := range i.SetCredentials {
			if !slices.Contains(fields, k) && !slices.Contains(fields, k+"?") {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		if len(missing) > 0 {
			errs.Add("credentials", fmt.Sprintf("Missing %s for %s.", strings.Join(missing, ", "), i.Provider))
		}
		if len(unknown) > 0 {
			errs.Add("credentials", fmt.Sprintf("Unknown field %s for %s.", strings.Join(unknown, ", "), i.Provider))
		}
	} else if !i.HasCredentials && i.SetCredentials == nil {
		errs.Add("credentials", "This field is required.")
	}
	// An integration writes into every organization it maps to: the caller must manage
	// integrations in each of them.
	targets := []int64{}
	for ext, org := range i.Mapping {
		if strings.TrimSpace(ext) == "" {
			errs.Add("organization_mapping", "Vendor ids may not be blank.")
		}
		targets = append(targets, org)
	}
	if i.DefaultOrgID != nil {
		targets = append(targets, *i.DefaultOrgID)
	}
	for _, org := range targets {
		if !c.Reaches(org) {
			errs.Add("organization_mapping", fmt.Sprintf("Organization %d does not exist.", org))
		} else if !c.Can(org, auth.IntegrationsManage) {
			return apperr.ErrForbidden
		}
	}
	if i.Mapping == nil {
		i.Mapping = map[string]int64{}
	}
	return errs.Err()
}

func credentialsBinding(i *Integration) vault.Binding {
	return vault.Binding{Table: "integrations", Column: "credentials", Org: i.OrgID, Row: i.ID}
}

// integrationWritten seals new credentials now that the row id exists.
func integrationWritten(ctx context.Context, tx *sql.Tx, s *Store, before, after *Integration) error {
	if after == nil || after.SetCredentials == nil {
		return nil
	}
	b, _ := json.Marshal(after.SetCredentials)
	_, err := tx.ExecContext(ctx, `UPDATE integrations SET credentials = $1 WHERE id = $2`, s.keyring.Seal(b, credentialsBinding(after)), after.ID)
	after.HasCredentials = true
	return err
}

// ListIntegrations pages the integrations the caller may view.
func (s *Store) ListIntegrations(ctx context.Context, q list.Query) ([]Integration, int, error) {
	return listScoped(ctx, s, integrations, q)
}

// GetIntegration reads one integration (never its credentials).
func (s *Store) GetIntegration(ctx context.Context, id int64) (Integration, error) {
	return integrations.get(ctx, s, id)
}

// CreateIntegration creates an integration.
func (s *Store) CreateIntegration(ctx context.Context, i Integration) (Integration, error) {
	return createScoped(ctx, s, integrations, i)
}

// UpdateIntegration changes an integration; credentials left out keep their stored value.
func (s *Store) UpdateIntegration(ctx context.Context, id int64, change func(*Integration) error) (Integration, error) {
	return updateScoped(ctx, s, integrations, id, change)
}

// DeleteIntegration deletes an integration with its runs, devices and alerts. Assets it created stay.
func (s *Store) DeleteIntegration(ctx context.Context, id int64) error {
	return deleteScoped(ctx, s, integrations, id)
}

// IntegrationCredentials opens an integration's credentials for the sync (no caller needed).
func (s *Store) IntegrationCredentials(ctx context.Context, i Integration) (map[string]string, error) {
	var ct []byte
	if err := s.r.QueryRowContext(ctx, `SELECT credentials FROM integrations WHERE id = $1`, i.ID).Scan(&ct); err != nil {
		return nil, notFound(err, "integration credentials")
	}
	if ct == nil {
		return map[string]string{}, nil
	}
	b, err := s.keyring.OpenCT(ctx, ct, credentialsBinding(&i))
	if err != nil {
		return nil, fmt.Errorf("store: credentials of integration %d: %w", i.ID, err)
	}
	creds := map[string]string{}
	return creds, json.Unmarshal(b, &creds)
}

// SyncRun is one run of an integration's sync.
type SyncRun struct {
	ID            int64
	IntegrationID int64
	OrgID         int64
	Status        string // running, succeeded, failed
	StartedBy     string // manual, schedule
	DryRun        bool
	StartedAt     time.Time
	FinishedAt    *time.Time
	Seen          int
	Created       int
	Updated       int
	Retired       int
	Skipped       int
	Error         string
	Summary       []string // a dry run's list of changes (first ones)
}

// SyncArgs is the job that runs a sync.
type SyncArgs struct {
	RunID int64 `json:"run_id"`
}

// Kind names the job.
func (SyncArgs) Kind() string { return "rmm.sync" }

// ErrSyncRunning answers a sync request while one runs.
var ErrSyncRunning = apperr.Conflictf("A sync of this integration is already running.")

// StartSync records a run and queues it. Manual runs need integrations.sync; scheduled ones run as
// the system.
func (s *Store) StartSync(ctx context.Context, id int64, dryRun bool, startedBy string) (SyncRun, error) {
	c, err := caller(ctx)
	if err != nil {
		return SyncRun{}, err
	}
	var run SyncRun
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		i, err := getScoped(ctx, s, integrations, tx, c, id, false)
		if err != nil {
			return err
		}
		if !c.Can(i.OrgID, auth.IntegrationsSync) {
			return apperr.ErrForbidden
		}
		now := s.Now()
		run = SyncRun{IntegrationID: id, OrgID: i.OrgID, Status: "running", StartedBy: startedBy, DryRun: dryRun, StartedAt: now}
		err = tx.QueryRowContext(ctx, `INSERT INTO integration_runs (integration_id, organization_id, status, started_by, dry_run, started_at)
			VALUES ($1, $2, 'running', $3, $4, $5) RETURNING id`, id, i.OrgID, startedBy, dryRun, now).Scan(&run.ID)
		if _, ok := db.IsUnique(err); ok {
			return ErrSyncRunning
		} else if err != nil {
			return err
		}
		if err := s.enqueuer.InsertTx(ctx, tx, SyncArgs{RunID: run.ID}, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, &i.OrgID, "sync", "integration", &i.ID, i.Name, Changes{"dry_run": []any{nil, dryRun}})
	})
	return run, wrap(err, "start sync")
}

const runColumns = `r.id, r.integration_id, r.organization_id, r.status, r.started_by, r.dry_run, r.started_at, r.finished_at,
	r.devices_seen, r.devices_created, r.devices_updated, r.devices_retired, r.devices_skipped, r.error, r.summary`

func scanRun(r rowScanner) (SyncRun, error) {
	var run SyncRun
	var summary string
	err := r.Scan(&run.ID, &run.IntegrationID, &run.OrgID, &run.Status, &run.StartedBy, &run.DryRun, &run.StartedAt, &run.FinishedAt,
		&run.Seen, &run.Created, &run.Updated, &run.Retired, &run.Skipped, &run.Error, &summary)
	if err == nil {
		err = json.Unmarshal([]byte(summary), &run.Summary)
	}
	run.StartedAt = run.StartedAt.UTC()
	return run, err
}

// RunSpec declares an integration's runs.
var RunSpec = list.Spec{
	DefaultOrder: "-id",
	Fields: []list.Field{
		{Name: "id", Column: "r.id", Kind: list.Int, Order: true},
		{Name: "status", Column: "r.status", Kind: list.Enum, Enum: []string{"running", "succeeded", "failed"}, Filter: true, Order: true},
		{Name: "started_at", Column: "r.started_at", Kind: list.Time, Order: true, Range: true},
	},
}

// ListRuns pages an integration's runs.
func (s *Store) ListRuns(ctx context.Context, integrationID int64, q list.Query) ([]SyncRun, int, error) {
	if _, err := s.GetIntegration(ctx, integrationID); err != nil {
		return nil, 0, err
	}
	l := listing{table: "integration_runs", alias: "r", from: "integration_runs r", columns: runColumns}
	l.where.add("r.integration_id = ?", integrationID)
	var out []SyncRun
	n, err := s.runList(ctx, &RunSpec, q, &l, func(r *sql.Rows) error {
		run, err := scanRun(r)
		out = append(out, run)
		return err
	})
	return out, n, err
}

// Run reads one run for the sync job (no caller needed).
func (s *Store) Run(ctx context.Context, id int64) (SyncRun, error) {
	run, err := scanRun(s.r.QueryRowContext(ctx, `SELECT `+runColumns+` FROM integration_runs r WHERE r.id = $1`, id))
	if err != nil {
		return run, notFound(err, "run")
	}
	return run, nil
}

// IntegrationForSync reads an integration for the sync job (no caller needed).
func (s *Store) IntegrationForSync(ctx context.Context, id int64) (Integration, error) {
	i, err := getScoped(ctx, s, integrations, s.r, auth.System(), id, false)
	if err != nil {
		return Integration{}, err
	}
	return *i, nil
}

// FinishRun records a run's outcome and the integration's last sync.
func (s *Store) FinishRun(ctx context.Context, run SyncRun, runErr error) error {
	now := s.Now()
	run.Status, run.FinishedAt = "succeeded", &now
	if runErr != nil {
		run.Status, run.Error = "failed", clean(runErr.Error(), 2000)
	}
	summary, _ := json.Marshal(run.Summary)
	if run.Summary == nil {
		summary = []byte("[]")
	}
	status := run.Status
	if run.DryRun {
		status = "dry run " + status
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE integration_runs SET status = $1, finished_at = $2, devices_seen = $3, devices_created = $4,
			devices_updated = $5, devices_retired = $6, devices_skipped = $7, error = $8, summary = $9 WHERE id = $10`,
			run.Status, now, run.Seen, run.Created, run.Updated, run.Retired, run.Skipped, run.Error, string(summary), run.ID); err != nil {
			return err
		}
		if run.DryRun {
			return nil
		}
		msg := status
		if run.Error != "" {
			msg += ": " + truncate(run.Error, 300)
		}
		_, err := tx.ExecContext(ctx, `UPDATE integrations SET last_sync_at = $1, last_sync_status = $2 WHERE id = $3`, now, msg, run.IntegrationID)
		return err
	})
	s.changed("integrations")
	return wrap(err, "finish run")
}

// DueIntegrations lists enabled integrations whose interval has passed since their last sync and
// that have no run going. The scheduler job starts them.
func (s *Store) DueIntegrations(ctx context.Context) ([]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT i.id, i.last_sync_at, i.sync_interval_minutes FROM integrations i
		WHERE i.enabled AND i.credentials IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM integration_runs r WHERE r.integration_id = i.id AND r.status = 'running')`)
	if err != nil {
		return nil, wrap(err, "due integrations")
	}
	defer rows.Close()
	now := s.Now()
	var out []int64
	for rows.Next() {
		var id int64
		var last *time.Time
		var minutes int
		if err := rows.Scan(&id, &last, &minutes); err != nil {
			return nil, wrap(err, "due integrations")
		}
		if last == nil || !now.Before(last.Add(time.Duration(minutes)*time.Minute)) {
			out = append(out, id)
		}
	}
	return out, wrap(rows.Err(), "due integrations")
}

// AbandonStaleRuns fails runs left running by a process that stopped (older than maxAge), so the
// integration can sync again.
func (s *Store) AbandonStaleRuns(ctx context.Context, maxAge time.Duration) error {
	_, err := s.db.W.ExecContext(ctx, `UPDATE integration_runs SET status = 'failed', finished_at = $1,
		error = 'The run was interrupted (the server stopped) and was abandoned.' WHERE status = 'running' AND started_at < $2`,
		s.Now(), s.Now().Add(-maxAge))
	return wrap(err, "abandon stale runs")
}
