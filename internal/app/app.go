// Package app wires the parts together and runs them: configuration, database and migrations, the
// store, background jobs and the HTTP server, with a graceful stop.
package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"clientst0r/internal/api"
	"clientst0r/internal/auth"
	"clientst0r/internal/config"
	"clientst0r/internal/db"
	"clientst0r/internal/jobs"
	"clientst0r/internal/monitor"
	"clientst0r/internal/store"
	"clientst0r/internal/vault"
	"clientst0r/internal/web"
)

// Version is set at build time with -ldflags "-X clientst0r/internal/app.Version=…".
var Version = "dev"

// App is an opened installation: a migrated database and the store over it.
type App struct {
	Cfg       config.Config
	DB        *db.DB
	Store     *store.Store
	Queue     *jobs.Queue
	Scheduler *monitor.Scheduler
	// Partition divides the monitors among the nodes sharing a PostgreSQL database; nil on SQLite,
	// where one node checks them all.
	Partition *monitor.Partition
	Log       *slog.Logger
	// Notifier connects this node to the others on the same PostgreSQL database (cache
	// invalidation, keyring changes); nil on SQLite. It runs from Open until Close.
	Notifier *db.Notifier
	// KeyGenerated is true when this start generated the master key file.
	KeyGenerated bool

	stopNotifier func()
}

// Open opens and migrates the database and checks the master key against it.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	key, generated, err := masterKey(cfg)
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	secrets := auth.DeriveSecrets(key)
	if err := checkCanary(ctx, d, secrets.Digest("clientst0r master key canary")); err != nil {
		d.Close()
		return nil, err
	}
	keyring, err := vault.Open(ctx, d.W, key, time.Now())
	if err != nil {
		d.Close()
		return nil, err
	}
	var notifier *db.Notifier
	if d.Dialect == db.Postgres {
		notifier = db.NewNotifier(d, log, db.NotifierOptions{})
	}
	s := store.New(d, secrets, keyring, store.Options{AssetJSON: api.AssetEvent(cfg.BaseURL), RequireTwoFactor: cfg.RequireTwoFactor,
		Notifier: notifier})
	q, err := jobs.New(d, s, log, jobs.Options{AllowPrivateTargets: cfg.AllowPrivateTargets, Version: Version, HIBPURL: cfg.HIBPURL,
		NVDURL: cfg.NVDURL, NVDAPIKey: cfg.NVDAPIKey})
	if err != nil {
		d.Close()
		return nil, err
	}
	var part *monitor.Partition
	var owns func(int64) bool
	if d.Dialect == db.Postgres {
		part = monitor.NewPartition(s, log)
		owns = part.Owns
	}
	sched := NewScheduler(s, log, nil, time.Now, owns)
	a := &App{Cfg: cfg, DB: d, Store: s, Queue: q, Scheduler: sched, Partition: part, Log: log, Notifier: notifier,
		KeyGenerated: generated, stopNotifier: func() {}}
	if notifier != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); notifier.Run(ctx) }()
		a.stopNotifier = func() { cancel(); <-done }
	}
	return a, nil
}

// NewScheduler builds the node's monitor scheduler over s and connects it to monitor changes.
// roots replaces the system's trusted roots for TLS checks and now the clock (tests); owns is the
// node's share of the monitors (nil: all).
func NewScheduler(s *store.Store, log *slog.Logger, roots *x509.CertPool, now func() time.Time, owns func(int64) bool) *monitor.Scheduler {
	sched := monitor.New(s, s, monitor.NewChecker(roots, Version, now).Check, log, monitor.Options{Owns: owns})
	s.OnMonitorChange(func(id int64) { sched.Changed(context.Background(), id) })
	return sched
}

// Close stops the notifier and closes the database.
func (a *App) Close() error {
	a.stopNotifier()
	return a.DB.Close()
}

// Handler is the whole HTTP surface: the API under /api/, the web UI everywhere else.
func (a *App) Handler() http.Handler {
	return NewHandler(a.Store, a.Scheduler, a.Queue.RMM, a.Cfg, a.Log, time.Now)
}

// NewHandler builds the HTTP surface over a store; now is the clock for rate limits.
func NewHandler(s *store.Store, sched *monitor.Scheduler, rmm api.IntegrationTester, cfg config.Config, log *slog.Logger,
	now func() time.Time) http.Handler {
	authn := auth.NewAuthenticatorWith(s, auth.DefaultLimits, RateCounters(s, now))
	apiH := api.New(api.Config{Store: s, Authn: authn, Log: log, BaseURL: cfg.BaseURL, Version: Version, Monitors: sched, RMM: rmm})
	webH := web.New(web.Config{Store: s, Monitors: sched, RMM: rmm, Authn: authn, Log: log, Version: Version, BaseURL: cfg.BaseURL})
	mux := http.NewServeMux()
	mux.Handle("/api/", apiH)
	mux.Handle("/api", apiH)
	mux.Handle("/", webH)
	mux.HandleFunc("GET /healthz", health(s))

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"detail": "CSRF Failed: cross-origin request refused."}`)
			return
		}
		http.Error(w, "Cross-origin request refused.", http.StatusForbidden)
	}))
	return api.RequestID(log, csrf.Handler(mux))
}

// health answers load balancers: 200 when this node reaches its database, 503 when not.
func health(s *store.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Cache-Control", "no-store")
		if err := s.DB().R.PingContext(ctx); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	}
}

// RateCounters are where rate limits and throttles count: in memory for a node alone (SQLite); in
// the database on PostgreSQL, which several nodes may share, so a key's limit holds across them.
func RateCounters(s *store.Store, now func() time.Time) auth.Counters {
	if s.DB().Dialect == db.Postgres {
		return auth.NewCounters(func(name string, period time.Duration) auth.Counter { return s.RateCounter(name, period, now) })
	}
	return auth.MemoryCounters(now)
}

// Serve runs the server and the job queue until ctx ends, then stops gracefully: the listener closes,
// in-flight requests finish (up to 30 s), running jobs finish, and the database closes.
func (a *App) Serve(ctx context.Context, out io.Writer) error {
	q := a.Queue
	ln, err := net.Listen("tcp", a.Cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	if err := q.Start(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("start job queue: %w", err)
	}
	a.announce(ctx, out, ln.Addr().String())

	schedCtx, stopSched := context.WithCancel(context.Background())
	schedDone := make(chan error, 1)
	partDone := make(chan struct{})
	if p := a.Partition; p != nil {
		p.Join(ctx)
		go func() {
			defer close(partDone)
			p.Run(schedCtx, func() {
				if err := a.Scheduler.Reload(schedCtx); err != nil && schedCtx.Err() == nil {
					a.Log.Warn("monitors not reloaded", "err", err)
				}
			})
		}()
	} else {
		close(partDone)
	}
	go func() { schedDone <- a.Scheduler.Run(schedCtx) }()
	defer func() { stopSched(); <-schedDone; <-partDone }()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		q.Stop(context.Background())
		return err
	case <-ctx.Done():
	}
	a.Log.Info("stopping: finishing in-flight requests")
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(stopCtx)
	if qerr := q.Stop(stopCtx); err == nil {
		err = qerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	a.Log.Info("stopped")
	return err
}

// WarnKeyGenerated prints the loud warning when this start generated the master key, whichever
// command it was.
func (a *App) WarnKeyGenerated(out io.Writer) {
	if a.KeyGenerated {
		fmt.Fprintf(out, "\n  WARNING: generated a new master key in %s/master.key.\n"+
			"  Back it up now and keep it apart from database backups: without it the vault and all API keys are lost.\n\n", a.Cfg.DataDir)
	}
}

// announce prints where the server listens and, on an empty installation, how to begin.
func (a *App) announce(ctx context.Context, out io.Writer, addr string) {
	fmt.Fprintf(out, "ClientSt0r %s listening on http://%s (%s)\n", Version, addr, a.DB.Dialect)
	a.WarnKeyGenerated(out)
	if has, err := a.Store.HasUsers(ctx); err == nil && !has {
		fmt.Fprintf(out, "No accounts yet. Create the first owner with:\n"+
			"  echo 'a long password' | go run ./cmd/clientst0r user create --email you@example.com --superuser --password-stdin\n"+
			"then sign in at http://%s/login\n", addr)
	}
}
