package automatefake_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/rmm/automate/automatefake"
	"clientst0r/internal/rmm/rmmtest"
)

// signIn returns a bearer token, as a client would get it.
func signIn(t *testing.T, f *automatefake.Server) string {
	t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, automatefake.Username, automatefake.Password) // lower case binds too
	req, _ := http.NewRequest(http.MethodPost, f.URL()+"/cwa/api/v1/apitoken", strings.NewReader(body))
	req.Header.Set("clientID", automatefake.ClientID)
	var res struct{ AccessToken string }
	do(t, req, http.StatusOK, &res)
	return res.AccessToken
}

func do(t *testing.T, req *http.Request, status int, out any) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d", req.Method, req.URL, res.StatusCode, status)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConditionsAndQueryNames(t *testing.T) {
	f := automatefake.New()
	defer f.Close()
	var devs []rmmtest.Device
	for i := range 10 {
		devs = append(devs, rmmtest.Device{ID: int64(i + 1), Org: int64(12 + i%2), Site: "HQ", Name: fmt.Sprintf("PC-%d", i+1),
			Online: i%3 == 0, Kind: map[bool]string{true: "server", false: "workstation"}[i == 4], LastSeen: time.Now()})
	}
	f.SetDevices(devs)
	tok := signIn(t, f)
	get := func(path string, q url.Values, status int) []map[string]any {
		req, _ := http.NewRequest(http.MethodGet, f.URL()+path+"?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("ClientId", automatefake.ClientID)
		var out []map[string]any
		if status != http.StatusOK {
			do(t, req, status, nil)
			return nil
		}
		do(t, req, status, &out)
		return out
	}
	ids := func(rows []map[string]any, key string) string {
		var s []string
		for _, r := range rows {
			s = append(s, fmt.Sprint(r[key]))
		}
		return strings.Join(s, ",")
	}
	cases := map[string]string{
		"(Client.Id = 12) and Status = 'Online'": "1,7",
		"Id in (2, 3,9) or Type = \"Server\"":    "2,3,5,9",
		"ComputerName like 'PC-1%'":              "1,10",
		"not (Id > 2)":                           "",
	}
	for cond, want := range cases {
		if cond == "not (Id > 2)" {
			get("/cwa/api/v1/Computers", url.Values{"condition": {cond}}, http.StatusBadRequest)
			continue
		}
		if got := ids(get("/CWA/API/V1/computers", url.Values{"options.condition": {cond}, "pagesize": {"50"}}, http.StatusOK), "Id"); got != want {
			t.Errorf("%s: %s, want %s", cond, got, want)
		}
	}
	if got := ids(get("/cwa/api/v1/Computers", url.Values{"options.page": {"2"}, "options.pageSize": {"4"}}, http.StatusOK), "Id"); got != "5,6,7,8" {
		t.Errorf("page 2 of 4: %s", got)
	}
	if got := ids(get("/cwa/api/v1/Computers/Chassis", url.Values{"condition": {"ComputerId in (3,4)"}}, http.StatusOK), "ComputerId"); got != "3,4" {
		t.Errorf("chassis: %s", got)
	}
	// The quirk of some servers: a date condition is a 500.
	get("/cwa/api/v1/Computers", url.Values{"condition": {"RemoteAgentLastContact <= 2026-01-01T00:00:00"}}, http.StatusInternalServerError)
}
