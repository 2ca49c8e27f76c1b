package bench

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
)

// FakeHIBP speaks the Have I Been Pwned range API on 127.0.0.1, in its real format, so a breach
// scan does the work it would against api.pwnedpasswords.com: GET /range/{5 hex} answers
// "SUFFIX:COUNT" lines separated by CRLF. Each range holds 700 to 999 corpus suffixes (the real
// corpus averages several hundred per prefix) plus the breached hashes it was given; with
// "Add-Padding: true" it adds count-0 lines up to 800–1,000 lines, as the real service documents.
type FakeHIBP struct {
	*httptest.Server
	breached map[string][]byte // prefix → its breached hashes' lines

	mu       sync.Mutex
	prefixes map[string]int // prefix → requests
	requests int
	padded   int
	conns    atomic.Int64
}

// corpus and padding are 1,000 lines each, drawn once: a range answers a prefix of them. The
// suffixes are random, so they match a seeded value's suffix with negligible probability.
var corpus, padding, corpusEnds, paddingEnds = func() ([]byte, []byte, []int, []int) {
	rng := rand.New(rand.NewPCG(42, 42))
	var c, p []byte
	var ce, pe []int
	for range 1000 {
		suffix := fmt.Sprintf("%016X%016X%03X", rng.Uint64(), rng.Uint64(), rng.IntN(1<<12))
		c = fmt.Appendf(c, "%s:%d\r\n", suffix, 1+int(rng.ExpFloat64()*50))
		ce = append(ce, len(c))
		p = fmt.Appendf(p, "%016X%016X%03X:0\r\n", rng.Uint64(), rng.Uint64(), rng.IntN(1<<12))
		pe = append(pe, len(p))
	}
	return c, p, ce, pe
}()

// NewFakeHIBP starts the server; breached maps upper-case SHA-1 hashes to their counts.
func NewFakeHIBP(breached map[string]int) *FakeHIBP {
	f := &FakeHIBP{breached: map[string][]byte{}, prefixes: map[string]int{}}
	for h, n := range breached {
		f.breached[h[:5]] = fmt.Appendf(f.breached[h[:5]], "%s:%d\r\n", h[5:], n)
	}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	// Counting connections shows whether the scanner's client reuses them.
	f.Server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.Server.Start()
	return f
}

func (f *FakeHIBP) serve(w http.ResponseWriter, r *http.Request) {
	prefix, ok := strings.CutPrefix(r.URL.Path, "/range/")
	if !ok || len(prefix) != 5 || strings.Trim(strings.ToUpper(prefix), "0123456789ABCDEF") != "" {
		http.Error(w, "The hash prefix was not in a valid format", http.StatusBadRequest)
		return
	}
	prefix = strings.ToUpper(prefix)
	pad := r.Header.Get("Add-Padding") == "true"
	f.mu.Lock()
	f.prefixes[prefix]++
	f.requests++
	if pad {
		f.padded++
	}
	f.mu.Unlock()

	// The same prefix always answers the same corpus lines, as a real range does.
	h := fnv.New32a()
	h.Write([]byte(prefix))
	n := 700 + int(h.Sum32()%300)
	own := f.breached[prefix]
	w.Header().Set("Content-Type", "text/plain")
	w.Write(corpus[:corpusEnds[n-1]])
	w.Write(own)
	if pad {
		lines := n + strings.Count(string(own), "\n")
		if extra := 800 + rand.IntN(201) - lines; extra > 0 {
			w.Write(padding[:paddingEnds[extra-1]])
		}
	}
}

// HIBPCounts is what the fake server saw.
type HIBPCounts struct {
	Requests, Prefixes, Padded int // requests, distinct prefixes asked for, requests asking for padding
	Conns                      int64
}

// Counts returns what the server saw so far.
func (f *FakeHIBP) Counts() HIBPCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return HIBPCounts{Requests: f.requests, Prefixes: len(f.prefixes), Padded: f.padded, Conns: f.conns.Load()}
}
