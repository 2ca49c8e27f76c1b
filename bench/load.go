package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Endpoint is one kind of request in the mix.
type Endpoint struct {
	Name   string
	Method string
	// Path returns the path and query of the next request; rng belongs to the calling worker.
	Path func(rng *rand.Rand) string
	// Body returns the body of the next request, nil for none.
	Body func(rng *rand.Rand) []byte
	Want int // the status of a successful response
	// Check, when set, reads the answer of a successful request (path is the one requested); an
	// error counts the request as failed. It is called concurrently.
	Check func(path string, body []byte) error
}

// Scenario is what the standard endpoints need to know about the data.
type Scenario struct {
	Search     string  // two terms that occur in the data, e.g. "dell ws-01"
	AssetIDs   []int64 // existing assets the key can see, for detail requests
	CreateOrgs []int64 // organizations the key may create assets in
	Seed       uint64
}

// EndpointNames are the standard mix, in the order they run: the list; create last so the
// reads run on the seeded data.
var EndpointNames = []string{"list", "search", "ordering", "filter", "detail", "create"}

// StandardEndpoints returns the endpoint mix.
func StandardEndpoints(s Scenario) []Endpoint {
	fixed := func(p string) func(*rand.Rand) string { return func(*rand.Rand) string { return p } }
	// Create bodies are drawn up front so the load generator spends its CPU on requests, not on
	// generating data; 512 distinct bodies are plenty.
	bodies := make([][]byte, 512)
	rng := rand.New(rand.NewPCG(s.Seed, 0xc0ffee))
	for i := range bodies {
		org := int64(0)
		if len(s.CreateOrgs) > 0 {
			org = oneOf(rng, s.CreateOrgs)
		}
		bodies[i] = createBody(rng, org, i)
	}
	return []Endpoint{
		{Name: "list", Method: "GET", Path: fixed("/api/assets/?page_size=25"), Want: 200},
		{Name: "search", Method: "GET", Path: fixed("/api/assets/?" + url.Values{"search": {s.Search}}.Encode()), Want: 200},
		{Name: "ordering", Method: "GET", Path: fixed("/api/assets/?ordering=name"), Want: 200},
		{Name: "filter", Method: "GET", Path: fixed("/api/assets/?asset_type=switch"), Want: 200},
		{Name: "detail", Method: "GET", Want: 200, Path: func(rng *rand.Rand) string {
			if len(s.AssetIDs) == 0 {
				return "/api/assets/0/"
			}
			return "/api/assets/" + strconv.FormatInt(oneOf(rng, s.AssetIDs), 10) + "/"
		}},
		{Name: "create", Method: "POST", Path: fixed("/api/assets/"), Want: 201,
			Body: func(rng *rand.Rand) []byte { return oneOf(rng, bodies) }},
	}
}

// createBody is a POST /api/assets/ body as an integration would send it.
func createBody(rng *rand.Rand, org int64, i int) []byte {
	a := newAsset(rng, client{ID: org, Index: 255, Prefix: "new"}, 5000+i, time.Now(), nil)
	if a.Tags == nil {
		a.Tags = []string{} // the API wants a list, not null
	}
	m := map[string]any{"organization": org, "name": a.Name, "asset_type": a.AssetType, "status": a.Status,
		"asset_tag": a.AssetTag, "serial_number": a.SerialNumber, "manufacturer": a.Manufacturer, "model": a.Model,
		"hostname": a.Hostname, "ip_address": a.IPAddress, "mac_address": a.MACAddress, "os_name": a.OSName,
		"os_version": a.OSVersion, "firmware_version": a.FirmwareVersion, "cpu": a.CPU, "ram_gb": a.RAMGB,
		"storage": a.Storage, "purchase_date": a.PurchaseDate, "warranty_expiry": a.WarrantyExpiry, "notes": a.Notes,
		"custom_fields": a.CustomFields, "tags": a.Tags}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // only plain values above
	}
	return b
}

// Target is a server under load.
type Target struct {
	URL    string   // http://127.0.0.1:port
	Keys   []string // API keys; workers take them in turn, spreading the per-key rate limit
	Client *http.Client
	// Nodes, when set, are several servers of one installation (PostgreSQL): workers take them in
	// turn, as behind a round-robin load balancer. URL is then the first.
	Nodes []string
}

// NewClient returns a client tuned for load: a kept-alive connection per worker, no compression
// (the bytes are what the server produced) and no proxy.
func NewClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        concurrency,
			MaxIdleConnsPerHost: concurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// Result is one endpoint's run.
type Result struct {
	Endpoint string
	Requests int64 // completed, successful or not
	Errors   int64 // transport errors and unexpected statuses
	Elapsed  time.Duration
	// Latency holds successful requests only, so fast failures (429, 500) cannot flatter the figures.
	Latency    Histogram
	FirstError string
}

// Rate is completed requests per second.
func (r *Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Run sends e's requests from concurrency workers, each waiting for its answer before the next
// (a closed loop), until d has passed or ctx ends.
func Run(ctx context.Context, t Target, e Endpoint, concurrency int, d time.Duration) Result {
	res := Result{Endpoint: e.Name}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range concurrency {
		wg.Go(func() {
			var h Histogram
			var n, errs int64
			var firstErr string
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			key := ""
			if len(t.Keys) > 0 {
				key = t.Keys[w%len(t.Keys)]
			}
			t := t
			if len(t.Nodes) > 0 {
				t.URL = t.Nodes[w%len(t.Nodes)]
			}
			for time.Now().Before(deadline) && ctx.Err() == nil {
				began := time.Now()
				err := do(ctx, t, e, key, rng)
				took := time.Since(began)
				if ctx.Err() != nil {
					break // interrupted: the last request proves nothing
				}
				n++
				if err != nil {
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
					continue
				}
				h.Record(took)
			}
			mu.Lock()
			defer mu.Unlock()
			res.Requests += n
			res.Errors += errs
			res.Latency.Merge(&h)
			if res.FirstError == "" {
				res.FirstError = firstErr
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

// do sends one request and reads the whole answer; an unexpected status is an error.
func do(ctx context.Context, t Target, e Endpoint, key string, rng *rand.Rand) error {
	path := ""
	if e.Check != nil { // the path is drawn here, so Check knows what was asked for
		path = e.Path(rng)
		e.Path = func(*rand.Rand) string { return path }
	}
	status, _, body, err := send(ctx, t, e, key, rng, e.Check != nil)
	if err != nil {
		return err
	}
	if status != e.Want {
		return fmt.Errorf("%s %d: %.200s", e.Name, status, body)
	}
	if e.Check != nil {
		return e.Check(path, body)
	}
	return nil
}

// send performs one request of e and returns the status and content type. The body is kept only
// when keep is set or the status is unexpected.
func send(ctx context.Context, t Target, e Endpoint, key string, rng *rand.Rand, keep bool) (int, string, []byte, error) {
	var body io.Reader
	if e.Body != nil {
		body = bytes.NewReader(e.Body(rng))
	}
	req, err := http.NewRequestWithContext(ctx, e.Method, t.URL+e.Path(rng), body)
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := t.Client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer res.Body.Close()
	ct := res.Header.Get("Content-Type")
	if keep || res.StatusCode != e.Want {
		b, err := io.ReadAll(res.Body)
		return res.StatusCode, ct, b, err
	}
	// Drain, so the connection is reused.
	_, err = io.Copy(io.Discard, res.Body)
	return res.StatusCode, ct, nil, err
}

// Discover finds up to 1,000 of the newest assets and their organizations through the API, for
// loading a server this process did not seed.
func Discover(ctx context.Context, t Target) (ids, orgs []int64, err error) {
	seen := map[int64]bool{}
	for page := 1; page <= 5; page++ {
		path := fmt.Sprintf("/api/assets/?page_size=200&ordering=-id&page=%d", page)
		e := Endpoint{Name: "discover", Method: "GET", Want: 200, Path: func(*rand.Rand) string { return path }}
		status, _, body, err := send(ctx, t, e, t.Keys[0], nil, true)
		if err != nil {
			return nil, nil, err
		}
		if status != 200 {
			return nil, nil, fmt.Errorf("GET %s: %d: %.300s", path, status, body)
		}
		var v struct {
			Next    *string
			Results []struct{ ID, Organization int64 }
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, nil, fmt.Errorf("GET %s: %w", path, err)
		}
		for _, a := range v.Results {
			ids = append(ids, a.ID)
			if !seen[a.Organization] {
				seen[a.Organization] = true
				orgs = append(orgs, a.Organization)
			}
		}
		if v.Next == nil {
			break
		}
	}
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("the server has no assets this key can see")
	}
	return ids, orgs, nil
}
