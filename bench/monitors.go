package bench

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"clientst0r/internal/app"
	"clientst0r/internal/auth"
	"clientst0r/internal/db"
	"clientst0r/internal/jobs"
	"clientst0r/internal/monitor"
	"clientst0r/internal/store"
)

// The WAN monitor benchmark: N HTTP monitors created through the store, checked by the node's real
// scheduler (app.NewScheduler: min-heap, worker pool, shared transports, batched result writer)
// against a target server in a child process on 127.0.0.1, so that the CPU and memory measured
// here are the server's alone.

// TargetEnv, when set in the environment ("keepalive" or "close"), makes a benchmark binary serve
// as the target instead (ServeMonitorTargetIfChild).
const TargetEnv = "CLIENTST0R_BENCH_TARGET"

const targetCountPath = "/__requests"

// targetBody is a small page, as a status page or a login form's shell would be.
var targetBody = []byte("<!doctype html><html><head><title>OK</title></head><body><p>Service is up.</p></body></html>\n")

// ServeMonitorTargetIfChild serves the target and exits when this process was started as one by
// StartMonitorTarget; otherwise it returns at once. Commands call it first thing in main.
func ServeMonitorTargetIfChild() {
	mode := os.Getenv(TargetEnv)
	if mode == "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "target:", err)
		os.Exit(1)
	}
	var n atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+targetCountPath, func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, n.Load())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(targetBody)))
		w.Write(targetBody)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	// Without keep-alives every check opens its own connection, as checks of monitors on
	// different hosts do; with them, all checks share the few connections to the one target.
	srv.SetKeepAlivesEnabled(mode == "keepalive")
	fmt.Println(ln.Addr().String())
	go srv.Serve(ln)
	io.Copy(io.Discard, os.Stdin) // until the parent closes it or exits
	os.Exit(0)
}

// MonitorTarget is the child process serving the monitored URL.
type MonitorTarget struct {
	URL   string
	cmd   *exec.Cmd
	stdin io.Closer
}

// StartMonitorTarget runs this binary again as the target (see ServeMonitorTargetIfChild).
func StartMonitorTarget(keepAlive bool) (*MonitorTarget, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	mode := "close"
	if keepAlive {
		mode = "keepalive"
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), TargetEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stdin.Close()
		cmd.Wait()
		return nil, fmt.Errorf("target did not start: %w", err)
	}
	return &MonitorTarget{URL: "http://" + strings.TrimSpace(addr), cmd: cmd, stdin: stdin}, nil
}

// Close stops the target.
func (t *MonitorTarget) Close() {
	t.stdin.Close()
	t.cmd.Wait()
}

// Requests is how many checks the target has answered.
func (t *MonitorTarget) Requests() (int64, error) {
	res, err := http.Get(t.URL + targetCountPath)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(b), 10, 64)
}

// CPU is the target's CPU time so far, from /proc/<pid>/stat.
func (t *MonitorTarget) CPU() (time.Duration, error) { return procCPU(t.cmd.Process.Pid) }

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux architecture Go
// supports.
const clockTicks = 100

func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it start at the last ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/pid/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14 of proc(5)
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// selfCPU is this process's user and system time, all threads.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU reads the busy and total time of all CPUs from /proc/stat, to show how much else ran.
func machineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest times are already in user and nice
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// MonitorBench sizes a run.
type MonitorBench struct {
	Monitors   int
	Orgs       int
	Interval   int           // seconds between checks of each monitor
	Warmup     time.Duration // scheduler running before the window: the first pass of every monitor
	Window     time.Duration // measured
	CPUProfile string        // when set, a CPU profile of the window
	// Prune adds an hour of results past retention before the run and, 10 s into the window,
	// deletes them as the hourly retention job does in a steady state: one long transaction on the
	// writer while the checks go on.
	Prune    bool
	Progress io.Writer
}

// monitorPrefix names the benchmark's monitors, so a reused installation finds them.
const monitorPrefix = "bench monitor "

// SeedMonitors makes the installation have exactly n enabled benchmark monitors pointing at
// target, creating (or deleting) them through the store as the system, 8 at a time so SQLite's
// group commit batches them. Existing ones are pointed at target's current address.
func SeedMonitors(ctx context.Context, a *app.App, cfg MonitorBench, target string) (created, deleted int, took time.Duration, err error) {
	start := time.Now()
	sys := auth.WithCaller(ctx, auth.System())
	// Changes made here must not reach a scheduler: the measured one is built afterwards and
	// loads every monitor, spread over the interval, as after a restart.
	a.Store.OnMonitorChange(func(int64) {})
	var orgs []int64
	for i := 1; i <= max(cfg.Orgs, 1); i++ {
		name := fmt.Sprintf("Monitored client %03d", i)
		var id int64
		err := a.DB.R.QueryRowContext(ctx, `SELECT id FROM organizations WHERE name = $1`, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			var o store.Organization
			o, err = a.Store.CreateOrganization(sys, store.Organization{Name: name, IsActive: true})
			id = o.ID
		}
		if err != nil {
			return 0, 0, 0, fmt.Errorf("organization %s: %w", name, err)
		}
		orgs = append(orgs, id)
	}
	have, err := ids(ctx, a.DB, `SELECT id FROM monitors WHERE name LIKE $1 ORDER BY id`, monitorPrefix+"%")
	if err != nil {
		return 0, 0, 0, err
	}
	// A reused installation's monitors point at an earlier run's target; the scheduler loads
	// configurations when it starts, so a bulk update is enough.
	if len(have) > 0 {
		if _, err := a.DB.W.ExecContext(ctx, `UPDATE monitors SET url = CAST($1 AS TEXT) || '/m/' || CAST(id AS TEXT), enabled = $2,
			interval_seconds = $3 WHERE name LIKE $4`, target, true, cfg.Interval, monitorPrefix+"%"); err != nil {
			return 0, 0, 0, err
		}
	}
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	if len(have) > cfg.Monitors {
		extra := have[cfg.Monitors:]
		for range 8 {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(len(extra)); i = next.Add(1) - 1 {
					if err := a.Store.DeleteMonitor(sys, extra[i]); err != nil {
						once.Do(func() { firstErr = err })
						return
					}
				}
			})
		}
		wg.Wait()
		return 0, len(extra), time.Since(start), firstErr
	}
	todo := int64(cfg.Monitors - len(have))
	base := len(have)
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < todo; i = next.Add(1) - 1 {
				k := base + int(i)
				_, err := a.Store.CreateMonitor(sys, store.Monitor{Scoped: store.Scoped{OrgID: orgs[k%len(orgs)]},
					Name: fmt.Sprintf("%s%06d", monitorPrefix, k+1), CheckType: "http", URL: fmt.Sprintf("%s/m/%d", target, k+1),
					IntervalSeconds: cfg.Interval, TimeoutSeconds: min(10, cfg.Interval-1), Enabled: true})
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				if done := i + 1; cfg.Progress != nil && done%10000 == 0 {
					fmt.Fprintf(cfg.Progress, "  %d monitors created\n", base+int(done))
				}
			}
		})
	}
	wg.Wait()
	return int(todo), 0, time.Since(start), firstErr
}

// SeedExpiredHour adds, for every benchmark monitor, one hour of results (3600/interval each)
// older than the retention of jobs.ResultRetention, for the retention job to delete (Prune). A
// steady-state installation has a week of results; this one has only the hour to delete, so the
// figure is a lower bound of that transaction's time.
func SeedExpiredHour(ctx context.Context, a *app.App, cfg MonitorBench) (rows int64, took time.Duration, err error) {
	start := time.Now()
	base := time.Now().UTC().Add(-jobs.ResultRetention - 2*time.Hour).Truncate(time.Second)
	step := time.Duration(cfg.Interval) * time.Second
	for at := base; at.Before(base.Add(time.Hour)); at = at.Add(step) {
		res, err := a.DB.W.ExecContext(ctx, `INSERT INTO monitor_results (monitor_id, checked_at, up, response_ms, status_code, error)
			SELECT id, $1, $2, 12, 200, '' FROM monitors WHERE name LIKE $3`, db.Time(at), true, monitorPrefix+"%")
		if err != nil {
			return rows, time.Since(start), err
		}
		n, _ := res.RowsAffected()
		rows += n
	}
	return rows, time.Since(start), nil
}

// MonitorResult is one measured window.
type MonitorResult struct {
	Monitors int
	Interval int
	Dialect  db.Dialect
	Window   time.Duration

	Started, OnTime, Skipped int64
	Late                     [len(monitor.LateBounds) + 1]int64
	MaxLate                  time.Duration
	TargetRequests           int64
	Down                     int64 // results stored as down in the window (timeouts, refusals)

	Writes, Written, WriteErrors int64
	WriteBusy                    time.Duration
	WriterWait                   time.Duration // workers waiting for room in the writer's queue, summed
	Queued                       int64         // checks started but not stored at the window's end: the writer's backlog (and any failed writes)

	CPU, TargetCPU     time.Duration
	MachineBusy        float64 // share of all CPUs busy in the window, everything on the machine
	RSS, HWM, HeapPeak int64   // HWM: peak since the scheduler started, seeding excluded
	DBGrowth           int64   // bytes the database grew in the window

	Pruned    int64         // results the retention job deleted in the window (Prune)
	PruneTook time.Duration // how long its transaction took
}

// Expected is the checks per second the monitors ask for.
func (r *MonitorResult) Expected() float64 { return float64(r.Monitors) / float64(r.Interval) }

// OnTimeShare is the share of due runs started within a second: skipped runs count as late.
func (r *MonitorResult) OnTimeShare() float64 {
	if n := r.Started + r.Skipped; n > 0 {
		return float64(r.OnTime) / float64(n)
	}
	return 0
}

// Sustained tells whether the node kept up: 99% of runs on time, the writer storing as many
// results as were checked (its queue can hide a deficit for a while, not for a whole window) and
// without errors, at most 1% of checks failing (a local target fails only when the node is
// overloaded).
func (r *MonitorResult) Sustained() bool {
	return r.OnTimeShare() >= 0.99 && r.WriteErrors == 0 && float64(r.Down) <= 0.01*float64(r.Started) &&
		float64(r.Started) >= 0.97*r.Expected()*r.Window.Seconds() && float64(r.Written) >= 0.98*float64(r.Started)
}

// lateQuantile is the upper bound of the lateness bucket holding quantile q of the starts.
func (r *MonitorResult) lateQuantile(q float64) string {
	var n, seen int64
	for _, c := range r.Late {
		n += c
	}
	for i, c := range r.Late {
		seen += c
		if n > 0 && float64(seen) >= q*float64(n) {
			if i < len(monitor.LateBounds) {
				return "≤" + shortDur(monitor.LateBounds[i])
			}
			return ">" + shortDur(monitor.LateBounds[len(monitor.LateBounds)-1])
		}
	}
	return "-"
}

func shortDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return fmt.Sprintf("%gs", d.Seconds())
}

type monitorSnap struct {
	at                                time.Time
	started, onTime, skipped          int64
	late                              [len(monitor.LateBounds) + 1]int64
	writes, written, writeErrs, wbusy int64
	wait                              int64
	cpu, targetCPU                    time.Duration
	busy, total                       int64
	requests, dbSize                  int64
}

func snapshot(st *monitor.Stats, t *MonitorTarget, a *app.App) (monitorSnap, error) {
	s := monitorSnap{at: time.Now(), started: st.Started.Load(), onTime: st.OnTime.Load(), skipped: st.Skipped.Load(),
		writes: st.Writes.Load(), written: st.Written.Load(), writeErrs: st.WriteErrors.Load(), wbusy: st.WriteNanos.Load(),
		wait: st.WaitNanos.Load(), cpu: selfCPU()}
	for i := range st.Late {
		s.late[i] = st.Late[i].Load()
	}
	s.busy, s.total = machineCPU()
	var err1, err2 error
	s.targetCPU, err1 = t.CPU()
	s.requests, err2 = t.Requests()
	s.dbSize = dbSize(a)
	return s, errors.Join(err1, err2)
}

func dbSize(a *app.App) int64 {
	if a.DB.Dialect == db.Postgres {
		var n int64
		a.DB.R.QueryRow(`SELECT pg_database_size(current_database())`).Scan(&n)
		return n
	}
	var n int64
	for _, p := range []string{a.DB.Path, a.DB.Path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// RunMonitors builds the node's scheduler as the server does (app.NewScheduler), runs it over the
// installation's enabled monitors for the warm-up and the window, and measures the window.
func RunMonitors(ctx context.Context, a *app.App, cfg MonitorBench, t *MonitorTarget) (MonitorResult, error) {
	res := MonitorResult{Monitors: cfg.Monitors, Interval: cfg.Interval, Dialect: a.DB.Dialect}
	sched := app.NewScheduler(a.Store, a.Log, nil, time.Now, nil)
	defer a.Store.OnMonitorChange(func(int64) {})
	runtime.GC()
	peakOK := ResetPeak() == nil
	stopHeap := heapPeak(time.Second)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- sched.Run(runCtx) }()
	stopped := false
	finish := func() error {
		if stopped {
			return nil
		}
		stopped = true
		stop()
		return <-done
	}
	defer finish()

	sleep := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case err := <-done:
			stopped = true
			return fmt.Errorf("scheduler stopped: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "  scheduler running over %d monitors; warm-up %s, then measuring %s\n", cfg.Monitors, cfg.Warmup, cfg.Window)
	}
	if err := sleep(cfg.Warmup); err != nil {
		return res, err
	}
	if n := sched.Len(); n != cfg.Monitors {
		return res, fmt.Errorf("scheduler has %d monitors, want %d", n, cfg.Monitors)
	}
	st := sched.Stats()
	st.MaxLateNanos.Store(0)
	s0, err := snapshot(st, t, a)
	if err != nil {
		return res, err
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
	}
	pruned := make(chan error, 1)
	if cfg.Prune {
		go func() {
			select {
			case <-time.After(min(10*time.Second, cfg.Window/4)):
			case <-runCtx.Done():
				pruned <- runCtx.Err()
				return
			}
			if err := a.DB.R.QueryRowContext(ctx, `SELECT count(*) FROM monitor_results WHERE checked_at < $1`,
				db.Time(time.Now().Add(-jobs.ResultRetention))).Scan(&res.Pruned); err != nil {
				pruned <- err
				return
			}
			start := time.Now()
			err := a.Store.PruneMonitorHistory(ctx, jobs.ResultRetention, jobs.RollupRetention)
			res.PruneTook = time.Since(start)
			pruned <- err
		}()
	} else {
		pruned <- nil
	}
	err = sleep(cfg.Window)
	if cfg.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return res, err
	}
	if perr := <-pruned; perr != nil {
		return res, fmt.Errorf("prune: %w", perr)
	}
	s1, err := snapshot(st, t, a)
	if err != nil {
		return res, err
	}
	res.MaxLate = time.Duration(st.MaxLateNanos.Load())
	if m, err := ReadMem(); err == nil {
		res.RSS = m.RSS
		if peakOK {
			res.HWM = m.Peak
		}
	}
	res.HeapPeak = stopHeap()
	if err := finish(); err != nil {
		return res, err
	}

	res.Window = s1.at.Sub(s0.at)
	res.Started, res.OnTime, res.Skipped = s1.started-s0.started, s1.onTime-s0.onTime, s1.skipped-s0.skipped
	for i := range res.Late {
		res.Late[i] = s1.late[i] - s0.late[i]
	}
	res.Writes, res.Written, res.WriteErrors = s1.writes-s0.writes, s1.written-s0.written, s1.writeErrs-s0.writeErrs
	res.WriteBusy = time.Duration(s1.wbusy - s0.wbusy)
	res.WriterWait = time.Duration(s1.wait - s0.wait)
	res.Queued = s1.started - s1.written
	res.CPU, res.TargetCPU = s1.cpu-s0.cpu, s1.targetCPU-s0.targetCPU
	if dt := s1.total - s0.total; dt > 0 {
		res.MachineBusy = float64(s1.busy-s0.busy) / float64(dt)
	}
	res.TargetRequests = s1.requests - s0.requests
	res.DBGrowth = s1.dbSize - s0.dbSize
	err = a.DB.R.QueryRowContext(ctx, `SELECT count(*) FROM monitor_results WHERE up = $1 AND checked_at >= $2 AND checked_at < $3`,
		false, s0.at.UTC(), s1.at.UTC()).Scan(&res.Down)
	return res, err
}

// PrintMonitorHeader and PrintMonitorRow write the table of runs, one row per monitor count.
func PrintMonitorHeader(w io.Writer) {
	fmt.Fprintf(w, "%8s %8s %8s %8s %6s %6s %7s %6s %8s %8s %8s %7s %7s %7s %6s %8s %7s %8s %6s %5s\n",
		"monitors", "checks/s", "due/s", "on time", "p99", "max", "skipped", "down",
		"CPU", "CPU/mach", "target", "machine", "RSS", "HWM", "heap", "write/s", "res/tx", "wr busy", "MiB/h", "ok")
	fmt.Fprintf(w, "%8s %8s %8s %8s %6s %6s %7s %6s %8s %8s %8s %7s %7s %7s %6s %8s %7s %8s %6s %5s\n",
		"", "", "", "≤1 s", "late", "late", "", "", "1 core", "2 cores", "CPU", "busy", "MiB", "MiB", "MiB", "tx/s", "", "", "db", "")
}

// PrintMonitorRow writes one run.
func PrintMonitorRow(w io.Writer, r *MonitorResult) {
	secs := r.Window.Seconds()
	ok := "yes"
	if !r.Sustained() {
		ok = "NO"
	}
	perTx := 0.0
	if r.Writes > 0 {
		perTx = float64(r.Written) / float64(r.Writes)
	}
	cpu := float64(r.CPU) / float64(r.Window)
	fmt.Fprintf(w, "%8d %8.0f %8.0f %7.2f%% %6s %6s %7d %6d %7.1f%% %7.1f%% %7.1f%% %6.0f%% %7.0f %7.0f %6.0f %8.2f %7.0f %7.1f%% %6.0f %5s\n",
		r.Monitors, float64(r.Started)/secs, r.Expected(), 100*r.OnTimeShare(), r.lateQuantile(0.99), shortDur(r.MaxLate.Round(time.Millisecond)),
		r.Skipped, r.Down, 100*cpu, 100*cpu/float64(runtime.NumCPU()), 100*float64(r.TargetCPU)/float64(r.Window), 100*r.MachineBusy,
		mib(r.RSS), mib(r.HWM), mib(r.HeapPeak), float64(r.Writes)/secs, perTx, 100*float64(r.WriteBusy)/float64(r.Window),
		float64(r.DBGrowth)/(1<<20)/secs*3600, ok)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// PrintMonitorDetail writes the lateness distribution and the write figures of one run.
func PrintMonitorDetail(w io.Writer, r *MonitorResult) {
	fmt.Fprintf(w, "window %s: %d checks started (%d answered by the target), %d runs skipped, %d results written in %d transactions (%d failed); %d checked but not yet stored at the end\n",
		r.Window.Round(time.Millisecond), r.Started, r.TargetRequests, r.Skipped, r.Written, r.Writes, r.WriteErrors, r.Queued)
	fmt.Fprint(w, "start lateness:")
	prev := "0"
	for i, c := range r.Late {
		label := ">" + shortDur(monitor.LateBounds[len(monitor.LateBounds)-1])
		if i < len(monitor.LateBounds) {
			label = prev + "–" + shortDur(monitor.LateBounds[i])
			prev = shortDur(monitor.LateBounds[i])
		}
		fmt.Fprintf(w, " %s %d;", label, c)
	}
	fmt.Fprintln(w)
	if r.PruneTook > 0 {
		fmt.Fprintf(w, "retention: %d expired results deleted in one transaction of %s during the window\n", r.Pruned, r.PruneTook.Round(time.Millisecond))
	}
	if r.Writes > 0 {
		fmt.Fprintf(w, "result writer: %.1f ms a transaction on average, busy %.1f%% of the window; workers waited %s in all for room in its queue\n",
			float64(r.WriteBusy)/float64(r.Writes)/1e6, 100*float64(r.WriteBusy)/float64(r.Window), r.WriterWait.Round(time.Millisecond))
	}
}
