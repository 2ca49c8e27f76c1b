package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"clientst0r/internal/app"
	"clientst0r/internal/auth"
	"clientst0r/internal/config"
	"clientst0r/internal/store"
)

// Helpers shared by the scenario commands (vaultbench, webhookbench): open an installation, serve
// it, and give it an owner with keys.

// OpenScratch opens the installation in dataDir or at dbURL, or a fresh SQLite one in a temporary
// directory when both are empty. close closes it and removes what it created. On PostgreSQL the
// master key is MasterKey unless CLIENTST0R_MASTER_KEY is set, as for loadtest.
func OpenScratch(ctx context.Context, dataDir, dbURL string, allowPrivate bool, log *slog.Logger) (a *app.App, close func(), err error) {
	in := Install{DataDir: dataDir, DatabaseURL: dbURL, AllowPrivateTargets: allowPrivate}
	if k := os.Getenv("CLIENTST0R_MASTER_KEY"); k != "" {
		if in.MasterKey, err = config.DecodeKey(k); err != nil {
			return nil, nil, fmt.Errorf("CLIENTST0R_MASTER_KEY %v", err)
		}
	}
	remove := func() {}
	if dataDir == "" && dbURL == "" {
		dir, err := os.MkdirTemp("", "clientst0r-bench-")
		if err != nil {
			return nil, nil, err
		}
		in.DataDir, remove = dir, func() { os.RemoveAll(dir) }
	}
	if a, err = Open(ctx, in, log); err != nil {
		remove()
		return nil, nil, err
	}
	return a, func() { a.Close(); remove() }, nil
}

// Serve serves the real handler on a loopback port with the server's own settings (app.Serve), so
// connection handling is the production one.
func Serve(a *app.App) (url string, close func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// masterKeyOf is the installation's master key: from the configuration (PostgreSQL) or the key
// file app.Open read or generated (SQLite). The application does not expose its keyring, so a
// scenario that seals secrets opens a second one over the same vault_keys table with this key.
func masterKeyOf(a *app.App) ([]byte, error) {
	if a.Cfg.MasterKey != nil {
		return a.Cfg.MasterKey, nil
	}
	b, err := os.ReadFile(filepath.Join(a.Cfg.DataDir, "master.key"))
	if err != nil {
		return nil, err
	}
	return config.DecodeKey(string(b))
}

// owner makes sure the account email exists and owns the organization named org (created when
// missing), then gives it fresh keys: keys are stored only as digests, so a reused installation
// cannot give back old ones.
func owner(ctx context.Context, a *app.App, email, org string, keys int, canReveal bool) (orgID, uid int64, plain []string, err error) {
	sys := auth.WithCaller(ctx, auth.System())
	st := a.Store
	uid, err = userID(ctx, a.DB, email)
	if errors.Is(err, sql.ErrNoRows) {
		var u store.User
		u, err = st.CreateUser(sys, store.User{Email: email, Name: "Benchmark Owner"}, password)
		uid = u.ID
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("owner %s: %w", email, err)
	}
	err = a.DB.R.QueryRowContext(ctx, `SELECT id FROM organizations WHERE name = $1`, org).Scan(&orgID)
	if errors.Is(err, sql.ErrNoRows) {
		var o store.Organization
		if o, err = st.CreateOrganization(sys, store.Organization{Name: org, IsActive: true}); err == nil {
			orgID = o.ID
			_, err = st.AddMember(sys, orgID, email, "owner")
		}
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("organization %s: %w", org, err)
	}
	stamp := time.Now().UTC().Format("2006-01-02 15:04:05")
	for i := range max(keys, 1) {
		_, k, err := st.CreateAPIKey(sys, store.NewKey{UserID: uid, RateLimit: store.MaxRateLimit, CanReveal: canReveal,
			Name: fmt.Sprintf("bench %s #%d", stamp, i+1)})
		if err != nil {
			return 0, 0, nil, fmt.Errorf("create key: %w", err)
		}
		plain = append(plain, k)
	}
	return orgID, uid, plain, nil
}
