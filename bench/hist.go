package bench

import (
	"math/bits"
	"time"
)

// Histogram records durations in fixed log-linear buckets, like an HDR histogram: 64 buckets per
// power of two, so any quantile is within about 1.6% of the true value, and memory stays fixed
// (about 30 KB) however long the run. It is not safe for concurrent use: each worker has its own
// and they are merged at the end.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

const (
	subBits     = 6
	subBuckets  = 1 << subBits
	histBuckets = (64 - subBits) * subBuckets
)

// bucket maps v (nanoseconds) to its bucket: values below 64 have one each; above, the bucket is
// the power of two and the next six bits.
func bucket(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return (shift+1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketRange is the smallest value of bucket i and the width of the bucket.
func bucketRange(i int) (lo, width uint64) {
	if i < subBuckets {
		return uint64(i), 1
	}
	shift := i/subBuckets - 1
	return uint64(i%subBuckets+subBuckets) << shift, 1 << shift
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucket(uint64(d))]++
	h.n++
	h.max = max(h.max, d)
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count is the number of recorded durations.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest recorded duration.
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the duration below which a fraction q of the recorded ones lie (the middle of
// its bucket); 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			lo, w := bucketRange(i)
			return min(time.Duration(lo+w/2), h.max)
		}
	}
	return h.max
}
