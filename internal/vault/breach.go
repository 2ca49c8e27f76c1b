package vault

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Breach checks use the Have I Been Pwned range API with k-anonymity: only the first five hex
// characters of a password's SHA-1 leave the server; the suffix is compared here.

// SHA1 returns the upper-case hex SHA-1 of a password, as the range API uses.
func SHA1(password string) string {
	sum := sha1.Sum([]byte(password))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// RangeClient fetches hash suffixes for a prefix.
type RangeClient struct {
	Base   string // e.g. https://api.pwnedpasswords.com
	Client *http.Client
	Agent  string
}

// Range returns suffix → count for one 5-character prefix, keeping only the suffixes asked about:
// a range holds some 800 lines, and a scan of many prefixes must not hold them all. Padding lines
// (count 0) are dropped.
func (c *RangeClient) Range(ctx context.Context, prefix string, suffixes []string) (map[string]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/range/"+prefix, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", c.Agent)
	res, err := c.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("breach range %s: %w", prefix, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("breach range %s: status %d", prefix, res.StatusCode)
	}
	want := make(map[string]bool, len(suffixes))
	for _, sfx := range suffixes {
		want[strings.ToUpper(sfx)] = true
	}
	out := map[string]int{}
	sc := bufio.NewScanner(io.LimitReader(res.Body, 8<<20))
	for sc.Scan() {
		suffix, count, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		suffix = strings.ToUpper(suffix)
		if !want[suffix] {
			continue
		}
		n, err := strconv.Atoi(count)
		if err != nil || n <= 0 {
			continue
		}
		out[suffix] = n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("breach range %s: %w", prefix, err)
	}
	return out, nil
}
