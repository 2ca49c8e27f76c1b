package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report prints one row per endpoint: the real server's figures and, when base has the endpoint,
// the baseline's and the real req/s as a percentage of the baseline's.
func Report(w io.Writer, real []Result, base map[string]*Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\trequests\treq/s\tp50\tp99\terrors\t\tbaseline req/s\t% of baseline\tbaseline p50\tbaseline p99\t")
	for i := range real {
		r := &real[i]
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%d\t", r.Endpoint, r.Requests, r.Rate(), ms(r.Latency.Quantile(0.5)),
			ms(r.Latency.Quantile(0.99)), r.Errors)
		if b := base[r.Endpoint]; b != nil && b.Rate() > 0 {
			fmt.Fprintf(tw, "\t%.0f\t%.1f%%\t%s\t%s\t\n", b.Rate(), 100*r.Rate()/b.Rate(), ms(b.Latency.Quantile(0.5)),
				ms(b.Latency.Quantile(0.99)))
		} else {
			fmt.Fprint(tw, "\t-\t-\t-\t-\t\n")
		}
	}
	tw.Flush()
	for i := range real {
		if r := &real[i]; r.FirstError != "" {
			fmt.Fprintf(w, "first error of %s: %s\n", r.Endpoint, r.FirstError)
		}
	}
}

// ms formats a latency in milliseconds with three significant digits.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	default:
		return fmt.Sprintf("%.2fms", v)
	}
}

// Mem is the resident memory of this process, from /proc/self/status: the current resident set
// (VmRSS) and its peak (VmHWM), in bytes.
type Mem struct{ RSS, Peak int64 }

// ReadMem reads the process's resident memory (Linux only).
func ReadMem() (Mem, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return Mem{}, err
	}
	defer f.Close()
	var m Mem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return Mem{}, fmt.Errorf("parse %s: %w", name, err)
		}
		if name == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.Peak = kb << 10
		}
	}
	return m, sc.Err()
}

// ResetPeak sets VmHWM back to the current resident set (Linux ≥ 4.0), so the peak of a later
// phase is not the seeder's.
func ResetPeak() error { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func (m Mem) String() string {
	return fmt.Sprintf("VmRSS %.0f MiB, VmHWM %.0f MiB", float64(m.RSS)/(1<<20), float64(m.Peak)/(1<<20))
}
