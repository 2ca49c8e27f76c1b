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

// Range returns suffix → count for one 5-character prefix. Padding lines (count 0) are dropped.
func (c *RangeClient) Range(ctx context.Context, prefix string) (map[string]int, error) {
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
	out := map[string]int{}
	sc := bufio.NewScanner(io.LimitReader(res.Body, 8<<20))
	for sc.Scan() {
		suffix, count, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(count)
		if err != nil || n <= 0 || len(suffix) != 35 {
			continue
		}
		out[strings.ToUpper(suffix)] = n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("breach range %s: %w", prefix, err)
	}
	return out, nil
}
