// Package jobs runs background work on River, on whichever database the application uses: the
// queue lives in the same database, so a job inserted in a transaction exists exactly when the
// change that caused it does.
package jobs

import (
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
	"clientst0r/internal/store"
)

// Queue is the River client and the workers it runs.
type Queue struct {
	client *river.Client[*sql.Tx]
}

// Options tune the queue; zero values take the defaults.
type Options struct {
	// RetentionEvery is how often expired sessions and idempotency records are deleted.
	RetentionEvery time.Duration
	// Poll is how often workers look for jobs inserted by other processes.
	Poll time.Duration
}

// New builds the queue over d's write pool. On SQLite that pool is the single writer, which River
// needs (it is not safe with several SQLite writers).
func New(d *db.DB, s *store.Store, log *slog.Logger, opts Options) (*Queue, error) {
	if opts.RetentionEvery == 0 {
		opts.RetentionEvery = time.Hour
	}
	if opts.Poll == 0 {
		opts.Poll = time.Second
	}
	var driver riverdriver.Driver[*sql.Tx]
	if d.Dialect == db.SQLite {
		driver = riversqlite.New(d.W)
	} else {
		driver = riverdatabasesql.New(d.W)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &retentionWorker{store: s})
	client, err := river.NewClient(driver, &river.Config{
		Logger:            log,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:           workers,
		FetchPollInterval: opts.Poll,
		FetchCooldown:     min(opts.Poll, river.FetchCooldownDefault),
		JobTimeout:        10 * time.Minute,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(opts.RetentionEvery),
				func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return &Queue{client: client}, nil
}

// Start begins working jobs until Stop.
func (q *Queue) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop lets running jobs finish (until ctx ends) and stops.
func (q *Queue) Stop(ctx context.Context) error { return q.client.Stop(ctx) }

// Client exposes River to tests and to the packages that insert jobs.
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

// RetentionArgs deletes expired sessions and idempotency records.
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

func (w *retentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	_, _, err := w.store.DeleteExpired(ctx)
	return err
}
