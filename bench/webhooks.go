package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"clientst0r/internal/app"
	"clientst0r/internal/db"
)

// The webhook scenario: assets created through the API fan out as asset.created to every webhook
// of the organization; a local receiver notes when each delivery's first attempt arrives.

// WebhookOwnerEmail owns the webhook scenario's organizations (a new one per run).
const WebhookOwnerEmail = "webhook-owner@example.com"

// WebhookConfig sizes the webhook scenario.
type WebhookConfig struct {
	Events      int // assets created, each an asset.created event
	Webhooks    int // webhooks subscribed to asset.created; each event goes to all
	Concurrency int // concurrent creators
	// Rate paces the creates (events per second over all creators); 0: as fast as the API answers.
	Rate float64
	// Timeout bounds the wait for the last delivery after the last create.
	Timeout  time.Duration
	Seed     uint64
	Progress io.Writer
}

// WebhookResult is what the scenario measured.
type WebhookResult struct {
	Dialect          db.Dialect
	Events, Webhooks int
	Rate             float64       // offered events per second; 0: unpaced
	Created          int           // assets the API created (201)
	CreateErrors     int           // creates that failed
	FirstError       string        // of the creates or the webhook setup
	CreateLatency    Histogram     // API answer times of the creates
	CreateTook       time.Duration // first create sent to last answer
	Deliveries       int           // distinct (asset, webhook) deliveries that arrived
	Attempts         int           // requests the receiver got (retries and duplicates included)
	Unexpected       int           // requests for no asset of this run, or with a webhook-id unlike the body's id
	Missing          int           // deliveries that never arrived before the timeout
	Took             time.Duration // first commit (API answer) to last first-attempt arrival
	Latency          Histogram     // commit → first-attempt arrival, per delivery
}

// DeliveryRate is deliveries per second from the first commit to the last arrival.
func (r *WebhookResult) DeliveryRate() float64 {
	if r.Took <= 0 {
		return 0
	}
	return float64(r.Deliveries) / r.Took.Seconds()
}

// delivery names one delivery: the asset (the event's data.id) and the webhook (its URL path).
type delivery struct {
	asset int64
	hook  string
}

// receiver answers 200 to everything and notes the first arrival of each delivery.
type receiver struct {
	mu         sync.Mutex
	first      map[delivery]time.Time
	attempts   int
	unexpected int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, _ := io.ReadAll(r.Body)
	var ev struct {
		ID   string
		Data struct{ ID int64 }
	}
	err := json.Unmarshal(body, &ev)
	rc.mu.Lock()
	rc.attempts++
	if err != nil || ev.Data.ID == 0 || r.Header.Get("webhook-id") != ev.ID {
		rc.unexpected++
	} else if k := (delivery{ev.Data.ID, r.URL.Path}); rc.first[k].IsZero() {
		rc.first[k] = now
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.first)
}

// RunWebhooks runs the scenario on a (the job queue is started here and stopped at the end). The
// installation must allow private targets: the receiver is on 127.0.0.1.
func RunWebhooks(ctx context.Context, a *app.App, cfg WebhookConfig) (*WebhookResult, error) {
	logf := progress(cfg.Progress)
	cfg.Concurrency = max(cfg.Concurrency, 1)
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if !a.Cfg.AllowPrivateTargets {
		return nil, fmt.Errorf("the installation must allow private targets (the receiver is on 127.0.0.1)")
	}
	// A new organization per run: webhooks left by an earlier run on a reused installation
	// belong to another one, so they neither fire nor count.
	org, _, keys, err := owner(ctx, a, WebhookOwnerEmail, "Webhook Benchmark "+time.Now().UTC().Format("2006-01-02 15:04:05.000"), 1, false)
	if err != nil {
		return nil, err
	}
	url, stopServer, err := Serve(a)
	if err != nil {
		return nil, err
	}
	defer stopServer()
	rc := &receiver{first: map[delivery]time.Time{}}
	rsrv := httptest.NewServer(rc)
	defer rsrv.Close()
	t := Target{URL: url, Keys: keys, Client: NewClient(cfg.Concurrency)}

	res := &WebhookResult{Dialect: a.DB.Dialect, Events: cfg.Events, Webhooks: cfg.Webhooks, Rate: cfg.Rate}
	var hooks []int64
	for i := range cfg.Webhooks {
		var w struct{ ID int64 }
		err := call(ctx, t, "POST", "/api/webhooks/", map[string]any{"organization": org, "name": fmt.Sprintf("receiver %d", i+1),
			"url": fmt.Sprintf("%s/hook/%d", rsrv.URL, i+1), "events": []string{"asset.created"}}, 201, &w)
		if err != nil {
			return nil, fmt.Errorf("create webhook: %w", err)
		}
		hooks = append(hooks, w.ID)
	}
	defer func() {
		// Deleting the webhooks (and their delivery logs) leaves a reused installation with
		// nothing aimed at a receiver that is gone.
		for _, id := range hooks {
			call(context.Background(), t, "DELETE", "/api/webhooks/"+strconv.FormatInt(id, 10)+"/", nil, 204, nil)
		}
	}()
	if err := a.Queue.Start(ctx); err != nil {
		return nil, fmt.Errorf("start job queue: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a.Queue.Stop(stopCtx)
	}()

	logf("creating %d assets with %d creators (%s), %d webhooks each", cfg.Events, cfg.Concurrency, pace(cfg.Rate), cfg.Webhooks)
	committed := createAssets(ctx, t, org, cfg, res)
	if len(committed) == 0 {
		return res, fmt.Errorf("no asset was created: %s", res.FirstError)
	}
	want := len(committed) * cfg.Webhooks
	logf("created %d in %s; waiting for %d deliveries", len(committed), res.CreateTook.Round(time.Millisecond), want)
	deadline := time.Now().Add(cfg.Timeout)
	for rc.count() < want && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	res.Attempts, res.Unexpected = rc.attempts, rc.unexpected
	var first, last time.Time
	for _, at := range committed {
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	for d, arrived := range rc.first {
		at, ok := committed[d.asset]
		if !ok {
			res.Unexpected++
			continue
		}
		res.Deliveries++
		res.Latency.Record(arrived.Sub(at)) // may be slightly negative: the delivery can beat the answer
		if arrived.After(last) {
			last = arrived
		}
	}
	res.Missing = want - res.Deliveries
	res.Took = last.Sub(first)
	return res, ctx.Err()
}

// createAssets posts cfg.Events assets from cfg.Concurrency workers and returns, per created asset,
// when the API answered 201: the transaction that queued its deliveries had committed by then.
func createAssets(ctx context.Context, t Target, org int64, cfg WebhookConfig, res *WebhookResult) map[int64]time.Time {
	committed := make(map[int64]time.Time, cfg.Events)
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	var lastAnswer time.Time
	for w := range cfg.Concurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(cfg.Events) {
					return
				}
				if cfg.Rate > 0 { // an open loop: the i-th event is due at i/Rate
					time.Sleep(time.Until(start.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))))
				}
				sent := time.Now()
				var a struct{ ID int64 }
				err := call(ctx, t, "POST", "/api/assets/", json.RawMessage(createBody(rng, org, int(i))), 201, &a)
				answered := time.Now()
				mu.Lock()
				if err != nil {
					res.CreateErrors++
					if res.FirstError == "" {
						res.FirstError = err.Error()
					}
				} else {
					committed[a.ID] = answered
					res.CreateLatency.Record(answered.Sub(sent))
					if answered.After(lastAnswer) {
						lastAnswer = answered
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Created = len(committed)
	res.CreateTook = lastAnswer.Sub(start)
	return committed
}

// call sends one JSON request and decodes the answer into out (nil: discard it). The answer time
// the creators note is taken when call returns, after the whole (small) body was read.
func call(ctx context.Context, t Target, method, path string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+t.Keys[0])
	res, err := t.Client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d: %.300s", method, path, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func pace(rate float64) string {
	if rate <= 0 {
		return "as fast as the API answers"
	}
	return fmt.Sprintf("%.0f events/s", rate)
}

// WebhookTarget is the figure the scenario is held to on SQLite.
const (
	WebhookTargetRate = 500 // deliveries per second
	WebhookTargetP99  = 2 * time.Second
)

// ReportWebhooks prints the scenario's table, the target and what went wrong.
func ReportWebhooks(w io.Writer, r *WebhookResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "events\twebhooks\tdeliveries\tseconds\tdeliveries/s\tp50\tp99\tmax\tmissing\tattempts\t")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%.1f\t%.0f\t%s\t%s\t%s\t%d\t%d\t\n", r.Created, r.Webhooks, r.Deliveries, r.Took.Seconds(),
		r.DeliveryRate(), ms(r.Latency.Quantile(0.5)), ms(r.Latency.Quantile(0.99)), ms(r.Latency.Max()), r.Missing, r.Attempts)
	tw.Flush()
	fmt.Fprintf(w, "p50/p99/max: commit (the API's 201) → first attempt at the receiver, per delivery\n")
	fmt.Fprintf(w, "creates: %d in %.1fs (%.0f/s), API p50 %s p99 %s, %d errors\n", r.Created, r.CreateTook.Seconds(),
		float64(r.Created)/max(r.CreateTook.Seconds(), 1e-9), ms(r.CreateLatency.Quantile(0.5)), ms(r.CreateLatency.Quantile(0.99)), r.CreateErrors)
	// The measured rate cannot exceed the offered one, and the window (first commit to last arrival)
	// adds the last delivery's latency: within 2% of the target counts.
	verdict := "met"
	switch offered := r.Rate * float64(r.Webhooks); {
	case r.Rate > 0 && offered < 0.98*WebhookTargetRate:
		verdict = fmt.Sprintf("not tested: the offered load is %.0f deliveries/s (-rate × -webhooks)", offered)
	case r.DeliveryRate() < 0.98*WebhookTargetRate || r.Latency.Quantile(0.99) >= WebhookTargetP99 || r.Missing > 0:
		verdict = "NOT met"
	}
	on := "SQLite"
	if r.Dialect != db.SQLite {
		on += ", for reference on " + string(r.Dialect)
	}
	fmt.Fprintf(w, "target (%s): %d deliveries/s with p99 under %s — %s\n", on, WebhookTargetRate, WebhookTargetP99, verdict)
	if r.Rate <= 0 {
		fmt.Fprintln(w, "unpaced: the creates outrun delivery, so the latencies are mostly the backlog; -rate 50 offers 500/s with 10 webhooks")
	}
	if r.Webhooks > 0 {
		fmt.Fprintf(w, "limit by design: 50 requests/s per webhook = %d deliveries/s for %d (internal/events/worker.go)\n",
			r.Webhooks*50, r.Webhooks)
	}
	if r.FirstError != "" {
		fmt.Fprintln(w, "first error:", r.FirstError)
	}
	if r.Unexpected > 0 {
		fmt.Fprintf(w, "PROBLEM: %d unexpected requests at the receiver\n", r.Unexpected)
	}
	if r.Missing > 0 {
		fmt.Fprintf(w, "PROBLEM: %d deliveries missing\n", r.Missing)
	}
}
