package app_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"clientst0r/internal/db"
	"clientst0r/internal/monitor"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
	"clientst0r/internal/vault"
)

// process is one `clientst0r serve` running as its own process, as behind a load balancer.
type process struct {
	cmd  *exec.Cmd
	url  string
	dead atomic.Bool
}

// buildBinary builds the command once for the test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "clientst0r")
	out, err := exec.Command("go", "build", "-o", bin, "clientst0r/cmd/clientst0r").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func clusterEnv(dbURL string) []string {
	return append(os.Environ(),
		"CLIENTST0R_DATABASE_URL="+dbURL,
		"CLIENTST0R_MASTER_KEY="+base64.StdEncoding.EncodeToString(testutil.MasterKey),
		"CLIENTST0R_ALLOW_PRIVATE_TARGETS=true",
		"CLIENTST0R_HIBP_URL=off",
		"CLIENTST0R_NVD_URL=off",
	)
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// startNode starts a node on a free port and waits until it listens.
func startNode(t *testing.T, bin, dbURL string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(clusterEnv(dbURL), "CLIENTST0R_ADDR=127.0.0.1:0", "CLIENTST0R_DATA_DIR="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &testutil.LogBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	t.Cleanup(func() {
		if !p.dead.Load() {
			cmd.Process.Signal(syscall.SIGTERM)
		}
		cmd.Wait()
		if t.Failed() {
			t.Logf("node %s log:\n%s", p.url, log.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		close(addr)
	}()
	select {
	case u, ok := <-addr:
		if !ok {
			t.Fatalf("node exited before listening:\n%s", log.String())
		}
		p.url = u
	case <-time.After(2 * time.Minute):
		t.Fatalf("node not listening within 2 minutes:\n%s", log.String())
	}
	return p
}

// kill stops the node as a crash would: no graceful stop, no goodbye to the others.
func (p *process) kill(t *testing.T) {
	p.dead.Store(true)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
}

// TestThreeNodesShareTheWorkAndSurviveACrash runs three nodes on one new PostgreSQL database,
// started together (the migrations run once, under the lock), spreads API traffic over them and
// kills one in the middle. Every event is delivered, duplicates only for deliveries the dead node
// had in flight; the monitors are checked once per interval while all three live and keep being
// checked after the crash; a monitor's transition is announced once; a key's limit holds across
// the nodes; and a key rotation run on one node's host is honoured by the others.
func TestThreeNodesShareTheWorkAndSurviveACrash(t *testing.T) {
	dbURL := testutil.NewEmptyDBURL(t, db.Postgres)
	bin := buildBinary(t)

	// The receiver records each event id; it is a little slow, so deliveries are in flight when
	// the node dies.
	var recvMu sync.Mutex
	received := map[string]int{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(20 * time.Millisecond)
		recvMu.Lock()
		received[r.Header.Get("webhook-id")]++
		recvMu.Unlock()
	}))
	defer receiver.Close()
	// The monitors' target records when each monitor checked it; /down fails.
	var hitsMu sync.Mutex
	hits := map[string][]time.Time{}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hitsMu.Lock()
		hits[r.URL.Path] = append(hits[r.URL.Path], time.Now())
		hitsMu.Unlock()
		if r.URL.Path == "/down" {
			http.Error(w, "down", http.StatusInternalServerError)
		}
	}))
	defer target.Close()

	nodes := make([]*process, 3)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { nodes[i] = startNode(t, bin, dbURL) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	admin := openNode(t, dbURL) // setup and inspection; it serves nothing to the others
	acme := org(t, admin, "Acme")
	owner, err := admin.Store.CreateUser(sys, store.User{Email: "owner@example.com"}, testutil.Password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Store.AddMember(sys, acme.ID, owner.Email, "owner"); err != nil {
		t.Fatal(err)
	}
	newKey := func(limit int) string {
		_, k, err := admin.Store.CreateAPIKey(sys, store.NewKey{UserID: owner.ID, Name: "script", RateLimit: limit, CanReveal: true})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	key := newKey(store.MaxRateLimit)
	on := func(i int) *node { return &node{url: nodes[i].url} }

	if r := on(0).do(t, "POST", "/api/webhooks/", key, map[string]any{"organization": acme.ID, "name": "receiver",
		"url": receiver.URL, "events": []string{"asset.created", "monitor.down", "monitor.up"}}); r.status != 201 {
		t.Fatalf("create webhook: %d %v", r.status, r.body)
	}
	const monitors = 30
	for i := range monitors {
		path := fmt.Sprintf("/m/%d", i)
		if i == 0 {
			path = "/down"
		}
		r := on(i%3).do(t, "POST", "/api/monitors/", key, map[string]any{"organization": acme.ID, "name": path, "check_type": "http",
			"url": target.URL + path, "interval_seconds": 10, "timeout_seconds": 5, "failure_threshold": 1})
		if r.status != 201 {
			t.Fatalf("create monitor: %d %v", r.status, r.body)
		}
	}
	passwords := map[string]int64{}
	for i := range 3 {
		r := on(i).do(t, "POST", "/api/passwords/", key, map[string]any{"organization": acme.ID, "title": fmt.Sprintf("before %d", i),
			"password": fmt.Sprintf("s3cret before rotation %d", i)})
		if r.status != 201 {
			t.Fatalf("create password: %d %v", r.status, r.body)
		}
		passwords[fmt.Sprintf("s3cret before rotation %d", i)] = int64(r.body["id"].(float64))
	}

	// Monitors are checked once per interval, by one node each, once every node has seen the
	// others (a heartbeat) and taken its share (the next one).
	time.Sleep(2*monitor.HeartbeatEvery + time.Second)
	from := time.Now()
	time.Sleep(40 * time.Second)
	to := time.Now()
	hitsMu.Lock()
	for i := range monitors {
		path := fmt.Sprintf("/m/%d", i)
		if i == 0 {
			path = "/down"
		}
		n := 0
		for _, at := range hits[path] {
			if at.After(from) && at.Before(to) {
				n++
			}
		}
		// 40 s at a 10 s interval: 4 checks, 5 at an edge; three nodes checking it would be 12.
		if n < 3 || n > 5 {
			t.Errorf("monitor %s checked %d times in 40 s at a 10 s interval with three nodes", path, n)
		}
	}
	hitsMu.Unlock()

	// Traffic over the three nodes: asset creates (each an event to deliver) and lists. A node
	// that refuses a connection is skipped, as a load balancer would.
	var created, failed atomic.Int64
	stop := make(chan struct{})
	var load sync.WaitGroup
	for w := range 6 {
		load.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := nodes[(w+i)%3]
				if n.dead.Load() {
					continue
				}
				method, path, body := "GET", "/api/assets/?page_size=10", ""
				if i%2 == 0 {
					method, path = "POST", "/api/assets/"
					body = fmt.Sprintf(`{"organization": %d, "name": "pc-%d-%d", "asset_type": "workstation"}`, acme.ID, w, i)
				}
				req, _ := http.NewRequest(method, n.url+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				switch {
				case method == "POST" && res.StatusCode == 201:
					created.Add(1)
				case res.StatusCode >= 300:
					t.Errorf("%s %s on %s: %d", method, path, n.url, res.StatusCode)
				}
			}
		})
	}
	time.Sleep(10 * time.Second)
	dead := nodes[1]
	dead.kill(t)
	killed := time.Now()
	time.Sleep(10 * time.Second)
	close(stop)
	load.Wait()
	t.Logf("%d assets created over three nodes, one killed after 10 s; %d requests failed on the dead node", created.Load(), failed.Load())
	survivors := []int{0, 2}

	// A key's limit counts on both nodes left: 100 requests a minute, 130 sent, alternating.
	limited := newKey(100)
	if now := time.Now(); now.Second() >= 40 {
		time.Sleep(time.Until(now.Truncate(time.Minute).Add(time.Minute + 50*time.Millisecond)))
	}
	window := time.Now()
	allowed := 0
	for i := range 130 {
		if r := on(survivors[i%2]).do(t, "GET", "/api/organizations/", limited, nil); r.status == 200 {
			allowed++
		} else if r.status != 429 {
			t.Fatalf("limited key: %d %v", r.status, r.body)
		}
	}
	if window.Truncate(time.Minute) != time.Now().Truncate(time.Minute) {
		t.Fatal("the limited requests crossed a minute; the window above is not one")
	}
	if allowed < 90 || allowed > 110 {
		t.Errorf("a key limited to 100 requests a minute had %d of 130 allowed across two nodes", allowed)
	}

	// A rotation run on the first node's host: the others seal new secrets with the new key and
	// still open the old ones.
	rotate := exec.Command(bin, "vault", "rotate-key")
	rotate.Env = append(clusterEnv(dbURL), "CLIENTST0R_DATA_DIR="+t.TempDir())
	out, err := rotate.CombinedOutput()
	if err != nil {
		t.Fatalf("vault rotate-key: %v\n%s", err, out)
	}
	var newest uint32
	if err := admin.DB.R.QueryRow(`SELECT max(id) FROM vault_keys`).Scan(&newest); err != nil {
		t.Fatal(err)
	}
	for _, i := range survivors {
		eventually(t, "node seals with the new key", func() bool {
			r := on(i).do(t, "POST", "/api/passwords/", key, map[string]any{"organization": acme.ID, "title": "after", "password": "new"})
			if r.status != 201 {
				t.Fatalf("create password: %d %v", r.status, r.body)
			}
			var ct []byte
			if err := admin.DB.R.QueryRow(`SELECT password_ct FROM passwords WHERE id = $1`, int64(r.body["id"].(float64))).Scan(&ct); err != nil {
				t.Fatal(err)
			}
			return vault.KeyID(ct) == newest
		})
		for want, id := range passwords {
			r := on(i).do(t, "POST", fmt.Sprintf("/api/passwords/%d/reveal/", id), key, nil)
			if r.status != 200 || r.body["password"] != want {
				t.Fatalf("reveal after rotation: %d %v", r.status, r.body)
			}
		}
	}
	// The re-encryption, run by one of the nodes left, leaves no secret under an older key.
	waitFor(t, "every password re-encrypted", 2*time.Minute, func() bool {
		rows, err := admin.DB.R.Query(`SELECT password_ct FROM passwords WHERE length(password_ct) > 0`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var ct []byte
			if err := rows.Scan(&ct); err != nil {
				t.Fatal(err)
			}
			if vault.KeyID(ct) != newest {
				return false
			}
		}
		return rows.Err() == nil
	})

	// Every monitor, the dead node's third included, is checked again once its heartbeat has aged.
	moved := killed.Add(monitor.HeartbeatLive + monitor.HeartbeatEvery)
	waitFor(t, "every monitor checked after the crash", time.Minute, func() bool {
		hitsMu.Lock()
		defer hitsMu.Unlock()
		for _, at := range hits {
			if !at[len(at)-1].After(moved) {
				return false
			}
		}
		return len(hits) == monitors
	})

	// Every event recorded is delivered: the rescued deliveries of the dead node within about a
	// minute and a half (a stuck job's timeout, then River's rescuer).
	var events []string
	rows, err := admin.DB.R.Query(`SELECT public_id FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		events = append(events, id)
	}
	rows.Close()
	waitFor(t, "every event delivered", 3*time.Minute, func() bool {
		recvMu.Lock()
		defer recvMu.Unlock()
		for _, id := range events {
			if received[id] == 0 {
				return false
			}
		}
		return true
	})
	recvMu.Lock()
	twice := 0
	for id, n := range received {
		if n > 2 {
			t.Errorf("event %s delivered %d times", id, n)
		}
		if n > 1 {
			twice++
		}
	}
	recvMu.Unlock()
	// Only what the dead node had in flight may be delivered again: at most its webhook workers.
	if twice > 32 {
		t.Errorf("%d events delivered twice; the dead node had at most 32 in flight", twice)
	}
	downs := 0
	if err := admin.DB.R.QueryRow(`SELECT count(*) FROM events WHERE event = 'monitor.down'`).Scan(&downs); err != nil {
		t.Fatal(err)
	}
	if downs != 1 {
		t.Errorf("the failing monitor's transition was announced %d times, want once", downs)
	}
	t.Logf("%d events, all delivered; %d twice (in flight on the dead node)", len(events), twice)
}

// waitFor polls cond until it holds, up to limit, and returns how long that took.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}
