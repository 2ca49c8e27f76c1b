// Package jobs runs background work on River, on whichever database the application uses: the
// queue lives in the same database, so a job inserted in a transaction exists exactly when the
// change that caused it does.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"clientst0r/internal/db"
	"clientst0r/internal/events"
	"clientst0r/internal/rmm"
	"clientst0r/internal/store"
	"clientst0r/internal/vault"
	"clientst0r/internal/vuln"
)

// Queue is the River client and the workers it runs. It is the store's Enqueuer.
type Queue struct {
	client *river.Client[*sql.Tx]
	now    func() time.Time
	// RMM runs integration syncs; the API uses it for connection tests.
	RMM *rmm.Engine
}

// Options tune the queue; zero values take the defaults.
type Options struct {
	// RetentionEvery is how often expired sessions, idempotency records and old deliveries go.
	RetentionEvery time.Duration
	// Poll is how often workers look for jobs inserted by other processes.
	Poll time.Duration
	// Now is a test clock that River's scheduling follows too; nil is the real clock.
	Now func() time.Time
	// AllowPrivateTargets lets webhooks reach loopback and private addresses.
	AllowPrivateTargets bool
	// Version goes into the webhook User-Agent.
	Version string
	// HIBPURL is the breach range API; "" turns breach checks off.
	HIBPURL string
	// BreachEvery is how often the whole vault is re-checked.
	BreachEvery time.Duration
	// NVDURL is the CVE API 2.0 ("" turns fetching off) and NVDAPIKey its optional key.
	NVDURL, NVDAPIKey string
	// NVDEvery is how often CVE data is fetched (6 h; NVD asks for no more than every 2 h);
	// NVDWindow shortens NVD's 30 s rate-limit window for tests against a fake.
	NVDEvery, NVDWindow time.Duration
	// RMMRateScale scales the RMM vendors' rate limits (tests against fakes); 0 is 1.
	RMMRateScale float64
}

// Retention of history (SPEC §5 and §7).
const (
	DeliveryRetention = 30 * 24 * time.Hour // webhook attempts and finished deliveries
	ResultRetention   = 7 * 24 * time.Hour  // every monitor result
	RollupRetention   = 90 * 24 * time.Hour // hourly monitor rollups
)

// Queues and their worker counts. Webhook deliveries wait on the network, so they get many
// workers of their own and cannot starve the housekeeping queue.
const queueWebhooks = "webhooks"

// queueVuln runs vulnerability scans one at a time per node.
const queueVuln = "vuln"

// New builds the queue over d's write pool (on SQLite that pool is the single writer, which River
// needs). It does not start working until Start; until then it only inserts.
func New(d *db.DB, s *store.Store, log *slog.Logger, opts Options) (*Queue, error) {
	opts.RetentionEvery = cmp.Or(opts.RetentionEvery, time.Hour)
	opts.Poll = cmp.Or(opts.Poll, time.Second)
	opts.BreachEvery = cmp.Or(opts.BreachEvery, 24*time.Hour)
	opts.NVDEvery = cmp.Or(opts.NVDEvery, 6*time.Hour)
	var driver riverdriver.Driver[*sql.Tx]
	if d.Dialect == db.SQLite {
		driver = riversqlite.New(d.W)
	} else {
		driver = riverdatabasesql.New(d.W)
	}
	q := &Queue{now: opts.Now}
	now := time.Now
	cfg := &river.Config{
		Logger: log,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: 4},
			// Deliveries are short and many: fetching every 100 ms (River's default cooldown)
			// would cap them near 320/s whatever the receivers can take.
			queueWebhooks: {MaxWorkers: 32, FetchCooldown: 20 * time.Millisecond},
			queueVuln:     {MaxWorkers: 1},
		},
		FetchPollInterval: opts.Poll,
		FetchCooldown:     min(opts.Poll, river.FetchCooldownDefault),
		// A job running on a node that died is retried once it has run for longer than this and
		// its own timeout: a webhook delivery within about a minute. Long jobs declare their own.
		JobTimeout:           time.Minute,
		RescueStuckJobsAfter: time.Minute,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(opts.RetentionEvery),
				func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return RMMScheduleArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(opts.BreachEvery),
				func() (river.JobArgs, *river.InsertOpts) {
					return BreachScanArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
				},
				nil),
			// Assets changed, and CVE criteria written by any process, are matched every minute.
			river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return store.VulnScanArgs{}, vulnPeriodicOpts() },
				nil),
			river.NewPeriodicJob(river.PeriodicInterval(opts.NVDEvery),
				func() (river.JobArgs, *river.InsertOpts) { return store.VulnScanArgs{Fetch: true}, vulnPeriodicOpts() },
				nil),
		},
	}
	if opts.Now != nil {
		cfg.Test.Time = stubTime{opts.Now}
		now = opts.Now
	}
	client := events.NewClient(events.Timeout, opts.AllowPrivateTargets)
	scanner := &BreachScanner{Store: s, Parallel: 8, Chunk: 200_000}
	if opts.HIBPURL != "" {
		scanner.Client = &vault.RangeClient{Base: opts.HIBPURL, Client: client, Agent: "ClientSt0r/" + opts.Version}
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &retentionWorker{store: s})
	river.AddWorker(workers, events.NewWorker(s, client, now, opts.Version))
	river.AddWorker(workers, &breachScanWorker{scanner: scanner})
	river.AddWorker(workers, &breachCheckWorker{scanner: scanner})
	river.AddWorker(workers, &reencryptWorker{store: s})
	q.RMM = &rmm.Engine{Store: s, HTTP: events.NewClient(60*time.Second, opts.AllowPrivateTargets), RateScale: opts.RMMRateScale,
		Now: now, Log: log}
	river.AddWorker(workers, &syncWorker{engine: q.RMM})
	river.AddWorker(workers, &rmmScheduleWorker{engine: q.RMM})
	vw := &vulnWorker{store: s}
	if opts.NVDURL != "" {
		vw.nvd = &vuln.Client{BaseURL: opts.NVDURL, APIKey: opts.NVDAPIKey, HTTP: events.NewClient(2*time.Minute, opts.AllowPrivateTargets),
			Agent: "ClientSt0r/" + opts.Version, Window: opts.NVDWindow, Backoff: opts.NVDWindow / 5}
	}
	river.AddWorker(workers, vw)
	cfg.Workers = workers
	rc, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	q.client = rc
	s.SetEnqueuer(q)
	return q, nil
}

// stubTime makes River schedule by the test clock.
type stubTime struct{ now func() time.Time }

func (s stubTime) Now() time.Time { return s.now() }
func (s stubTime) NowOrNil() *time.Time {
	t := s.now()
	return &t
}

// InsertTx queues a job in tx, to run at (or now, when at is not in the future).
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, args store.JobArgs, at time.Time) error {
	opts := &river.InsertOpts{}
	switch args.(type) {
	case store.DeliverArgs:
		opts.Queue = queueWebhooks
	case store.VulnScanArgs:
		opts.Queue = queueVuln
	}
	if at.After(q.clock()) {
		opts.ScheduledAt = at
	}
	_, err := q.client.InsertTx(ctx, tx, args.(river.JobArgs), opts)
	return err
}

// Start begins working jobs until Stop, with a CVE fetch a minute after start (SPEC §9: shortly
// after start, then every 6 h); nodes starting together queue it once.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return err
	}
	opts := vulnPeriodicOpts()
	opts.ScheduledAt = q.clock().Add(time.Minute)
	_, err := q.client.Insert(ctx, store.VulnScanArgs{Fetch: true}, opts)
	return err
}

func (q *Queue) clock() time.Time {
	if q.now != nil {
		return q.now()
	}
	return time.Now()
}

// Stop lets running jobs finish (until ctx ends) and stops.
func (q *Queue) Stop(ctx context.Context) error { return q.client.Stop(ctx) }

// Client exposes River to tests.
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

// RetentionArgs deletes what has expired: sessions, idempotency records, old deliveries.
type RetentionArgs struct{}

// Kind names the job in the queue.
func (RetentionArgs) Kind() string { return "retention" }

// InsertOpts keeps one retention job queued at a time.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}}
}

type retentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	store *store.Store
}

func (w *retentionWorker) Timeout(*river.Job[RetentionArgs]) time.Duration { return time.Hour }

func (w *retentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	if _, _, err := w.store.DeleteExpired(ctx); err != nil {
		return err
	}
	if err := w.store.PruneMonitorHistory(ctx, ResultRetention, RollupRetention); err != nil {
		return err
	}
	_, err := w.store.PruneDeliveries(ctx, DeliveryRetention)
	return err
}

// syncWorker runs one integration sync.
type syncWorker struct {
	river.WorkerDefaults[store.SyncArgs]
	engine *rmm.Engine
}

func (w *syncWorker) Timeout(*river.Job[store.SyncArgs]) time.Duration { return 6 * time.Hour }

func (w *syncWorker) Work(ctx context.Context, job *river.Job[store.SyncArgs]) error {
	return w.engine.Run(ctx, job.Args.RunID)
}

// RMMScheduleArgs starts the integration syncs that are due; it runs every minute.
type RMMScheduleArgs struct{}

// Kind names the job.
func (RMMScheduleArgs) Kind() string { return "rmm.schedule" }

// InsertOpts keeps one queued at a time.
func (RMMScheduleArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}}
}

type rmmScheduleWorker struct {
	river.WorkerDefaults[RMMScheduleArgs]
	engine *rmm.Engine
}

func (w *rmmScheduleWorker) Work(ctx context.Context, job *river.Job[RMMScheduleArgs]) error {
	return w.engine.Schedule(ctx)
}
