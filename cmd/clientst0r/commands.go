package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"clientst0r/internal/app"
	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/config"
	"clientst0r/internal/db"
	"clientst0r/internal/store"
)

const usage = `usage:
  clientst0r [serve]                          start the server (default command); migrates first
  clientst0r migrate                          apply migrations and exit
  clientst0r org create --name NAME [--slug SLUG] [--require-2fa]
  clientst0r user create --email E [--name N] [--superuser] --password-stdin
  clientst0r user deactivate --email E
  clientst0r user reset-2fa --email E         turn two-factor off for a lost authenticator; signs out everywhere
  clientst0r member add --org ID|SLUG --email E --role owner|admin|editor|readonly|<custom role>
  clientst0r member remove --org ID|SLUG --email E
  clientst0r invite --org ID|SLUG --email E --role R   prints a one-time sign-up link (7 days)
  clientst0r role create --name N --permissions P[,P...] [--description D]
  clientst0r apikey create --email E --name N [--role R] [--org ID|SLUG ...] [--rate-limit N/min]
                           [--expires DURATION] [--reveal]
  clientst0r vault rotate-key                 new data key; re-encrypts in the background
  clientst0r cve import FILE                  import an NVD JSON 2.0 feed file (.json or .json.gz)
  clientst0r backup FILE                      consistent online backup (SQLite: VACUUM INTO)
  clientst0r migrate-to-postgres --to URL     copy this SQLite installation into an empty PostgreSQL database
  clientst0r version`

// env carries what every command needs.
type env struct {
	ctx    context.Context
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name string
	run  func(e env, args []string) error
}

var commands = []command{
	{"serve", cmdServe},
	{"migrate", cmdMigrate},
	{"org create", cmdOrgCreate},
	{"user create", cmdUserCreate},
	{"user deactivate", userCommand("user deactivate", (*store.Store).DeactivateUser)},
	{"user reset-2fa", userCommand("user reset-2fa", (*store.Store).ResetTwoFactor)}, // lost authenticator and recovery codes
	{"member add", memberCommand("member add", true, memberAdd)},
	{"member remove", memberCommand("member remove", false, memberRemove)},
	{"role create", cmdRoleCreate},
	{"apikey create", cmdAPIKeyCreate},
	{"vault rotate-key", cmdRotateKey},
	{"cve import", cmdCVEImport},
	{"invite", memberCommand("invite", true, invite)},
	{"backup", cmdBackup},
	{"migrate-to-postgres", cmdMigrateToPostgres},
	{"version", cmdVersion},
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		return cmdServe(e, args)
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return c.run(e, args[len(words):])
		}
	}
	if len(args) >= 1 && slices.ContainsFunc(commands, func(c command) bool { return strings.HasPrefix(c.name, args[0]+" ") }) {
		return fmt.Errorf("unknown %q command %q (run 'clientst0r help')", args[0], strings.Join(args[1:], " "))
	}
	return fmt.Errorf("unknown command %q (run 'clientst0r help')", args[0])
}

// oneLine flattens a (possibly joined) error to a single line.
func oneLine(err error) string {
	if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
		return e.Fields.String()
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// flags parses a command's flags; errors name the command and go nowhere else.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func required(fs *flag.FlagSet, names ...string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, n := range names {
		if !set[n] {
			return fmt.Errorf("%s: --%s is required", fs.Name(), n)
		}
	}
	return nil
}

func logger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// open loads the configuration and opens the installation; commands act as the system caller.
func open(e env) (*app.App, context.Context, error) {
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return nil, nil, err
	}
	// One-shot commands print their result; only warnings and errors of the machinery show.
	a, err := app.Open(e.ctx, cfg, logger(e.stderr, slog.LevelWarn))
	if err != nil {
		return nil, nil, err
	}
	a.WarnKeyGenerated(e.stderr)
	return a, auth.WithCaller(e.ctx, auth.System()), nil
}

func cmdServe(e env, args []string) error {
	fs := flags("serve")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return err
	}
	a, err := app.Open(e.ctx, cfg, logger(e.stderr, slog.LevelInfo))
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Serve(e.ctx, e.stdout)
}

func cmdMigrate(e env, args []string) error {
	if err := parse(flags("migrate"), args); err != nil {
		return err
	}
	a, _, err := open(e)
	if err != nil {
		return err
	}
	defer a.Close()
	fmt.Fprintln(e.stdout, "migrations applied")
	return nil
}

func cmdOrgCreate(e env, args []string) error {
	fs := flags("org create")
	name := fs.String("name", "", "")
	slug := fs.String("slug", "", "")
	require2FA := fs.Bool("require-2fa", false, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "name"); err != nil {
		return err
	}
	a, ctx, err := open(e)
	if err != nil {
		return err
	}
	defer a.Close()
	o, err := a.Store.CreateOrganization(ctx, store.Organization{Name: *name, Slug: *slug, IsActive: true, RequireTwoFactor: *require2FA})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, o.ID)
	return nil
}

func cmdUserCreate(e env, args []string) error {
	fs := flags("user create")
	email := fs.String("email", "", "")
	name := fs.String("name", "", "")
	super := fs.Bool("superuser", false, "")
	stdinPw := fs.Bool("password-stdin", false, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "email"); err != nil {
		return err
	}
	if !*stdinPw {
		return errors.New("user create: --password-stdin is required (the password is read from standard input, never from the command line)")
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, auth.MaxPasswordLength+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("user create: read password: %v", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("user create: no password on standard input")
	}
	a, ctx, err := open(e)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Store.CreateUser(ctx, store.User{Email: *email, Name: *name, IsSuperuser: *super}, password)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, u.ID)
	return nil
}

// userCommand is a command on one account, named by --email.
func userCommand(name string, act func(s *store.Store, ctx context.Context, email string) error) func(env, []string) error {
	return func(e env, args []string) error {
		fs := flags(name)
		email := fs.String("email", "", "")
		if err := parse(fs, args); err != nil {
			return err
		}
		if err := required(fs, "email"); err != nil {
			return err
		}
		a, ctx, err := open(e)
		if err != nil {
			return err
		}
		defer a.Close()
		return act(a.Store, ctx, *email)
	}
}

// memberCommand is a command on an account's place in an organization: --org (id or slug),
// --email and, withRole, --role.
func memberCommand(name string, withRole bool, act func(e env, a *app.App, ctx context.Context, o store.Organization, email, role string) error) func(env, []string) error {
	return func(e env, args []string) error {
		fs := flags(name)
		ref := fs.String("org", "", "")
		email := fs.String("email", "", "")
		role := fs.String("role", "", "")
		if err := parse(fs, args); err != nil {
			return err
		}
		req := []string{"org", "email"}
		if withRole {
			req = append(req, "role")
		}
		if err := required(fs, req...); err != nil {
			return err
		}
		a, ctx, err := open(e)
		if err != nil {
			return err
		}
		defer a.Close()
		o, err := a.Store.OrganizationByRef(ctx, *ref)
		if err != nil {
			return fmt.Errorf("%s: no organization %q", name, *ref)
		}
		return act(e, a, ctx, o, *email, *role)
	}
}

func memberAdd(_ env, a *app.App, ctx context.Context, o store.Organization, email, role string) error {
	_, err := a.Store.AddMember(ctx, o.ID, email, role)
	return err
}

func memberRemove(_ env, a *app.App, ctx context.Context, o store.Organization, email, _ string) error {
	return a.Store.RemoveMember(ctx, o.ID, email)
}

// invite adds an existing account at once, or prints the link a new person signs up with.
func invite(e env, a *app.App, ctx context.Context, o store.Organization, email, role string) error {
	token, added, err := a.Store.Invite(ctx, o.ID, email, role)
	if err != nil {
		return err
	}
	if added {
		fmt.Fprintf(e.stdout, "%s already has an account and is now %s in %s\n", email, role, o.Name)
		return nil
	}
	base := a.Cfg.BaseURL
	if base == "" {
		base = "http://" + a.Cfg.Addr
	}
	fmt.Fprintf(e.stdout, "%s/invite/%s\n", base, url.PathEscape(token))
	return nil
}

func cmdRoleCreate(e env, args []string) error {
	fs := flags("role create")
	name := fs.String("name", "", "")
	perms := fs.String("permissions", "", "")
	desc := fs.String("description", "", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "name", "permissions"); err != nil {
		return err
	}
	var names []string
	for _, p := range strings.Split(*perms, ",") {
		if p = strings.TrimSpace(p); p != "" {
			names = append(names, p)
		}
	}
	p, err := auth.ParsePerms(names)
	if err != nil {
		return fmt.Errorf("role create: %v (known: %s)", err, strings.Join(auth.AllPermNames(), ", "))
	}
	a, ctx, err := open(e)
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.Store.CreateRole(ctx, store.Role{Role: auth.Role{Name: *name, Description: *desc, Perms: p}})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, r.ID)
	return nil
}

// multi collects a repeatable flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func cmdAPIKeyCreate(e env, args []string) error {
	fs := flags("apikey create")
	email := fs.String("email", "", "")
	name := fs.String("name", "", "")
	role := fs.String("role", "", "")
	rate := fs.String("rate-limit", "", "")
	expires := fs.String("expires", "", "")
	reveal := fs.Bool("reveal", false, "")
	var orgs multi
	fs.Var(&orgs, "org", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "email", "name"); err != nil {
		return err
	}
	in := store.NewKey{Name: *name, Role: *role, CanReveal: *reveal}
	if *rate != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(*rate, "/min"))
		if err != nil || n < 1 {
			return fmt.Errorf("apikey create: --rate-limit %q is not a number of requests per minute like 600 or 600/min", *rate)
		}
		in.RateLimit = n
	}
	if *expires != "" {
		d, err := parseDuration(*expires)
		if err != nil || d <= 0 {
			return fmt.Errorf("apikey create: --expires %q is not a positive duration like 90d, 12h or 30m", *expires)
		}
		t := time.Now().Add(d)
		in.ExpiresAt = &t
	}
	a, ctx, err := open(e)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Store.UserByEmail(ctx, *email)
	if err != nil {
		return fmt.Errorf("apikey create: %s", oneLine(err))
	}
	in.UserID = u.ID
	for _, ref := range orgs {
		o, err := a.Store.OrganizationByRef(ctx, ref)
		if err != nil {
			return fmt.Errorf("apikey create: no organization %q", ref)
		}
		in.Orgs = append(in.Orgs, o.ID)
	}
	_, plaintext, err := a.Store.CreateAPIKey(ctx, in)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, plaintext)
	return nil
}

// parseDuration accepts Go durations plus a day unit ("90d").
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n > 36500 {
			return 0, errors.New("bad day count")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func cmdRotateKey(e env, args []string) error {
	if err := parse(flags("vault rotate-key"), args); err != nil {
		return err
	}
	a, ctx, err := open(e)
	if err != nil {
		return err
	}
	defer a.Close()
	id, err := a.Store.RotateKey(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "data key %d is now used for new secrets; the server re-encrypts existing ones in the background\n", id)
	return nil
}

// cmdCVEImport streams a feed into the CVE data; the server's next scan (within a minute) matches
// the changed criteria against the inventory.
func cmdCVEImport(e env, args []string) error {
	fs := flags("cve import")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("cve import: %v", err)
	}
	if fs.NArg() != 1 {
		return errors.New("cve import: give exactly one feed file (NVD JSON 2.0, .json or .json.gz)")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("cve import: %v", err)
	}
	defer f.Close()
	a, ctx, err := open(e)
	if err != nil {
		return err
	}
	defer a.Close()
	p, b, err := a.Store.ImportCVEs(ctx, f)
	if err != nil {
		return fmt.Errorf("cve import: %s: %v (%d new or changed CVEs before it were saved)", fs.Arg(0), err, b.Changed)
	}
	fmt.Fprintf(e.stdout, "%d CVEs read, %d new or changed", p.Read-p.Invalid, b.Changed)
	if p.Invalid > 0 {
		fmt.Fprintf(e.stdout, ", %d malformed records skipped (first: %s)", p.Invalid, p.Errors[0])
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func cmdBackup(e env, args []string) error {
	fs := flags("backup")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("backup: %v", err)
	}
	if fs.NArg() != 1 {
		return errors.New("backup: give exactly one destination file")
	}
	dest, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("backup: %v", err)
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("backup: %s already exists; choose a new file", dest)
	}
	a, _, err := open(e)
	if err != nil {
		return err
	}
	defer a.Close()
	if a.DB.Dialect != db.SQLite {
		return errors.New("backup: on PostgreSQL use pg_dump (the database is not a file this process owns)")
	}
	if _, err := a.DB.W.ExecContext(e.ctx, `VACUUM INTO $1`, dest); err != nil {
		return fmt.Errorf("backup: %v", err)
	}
	fmt.Fprintln(e.stdout, dest)
	return nil
}

// cmdMigrateToPostgres copies the SQLite installation the configuration names into an empty
// PostgreSQL database, ids and ciphertexts as they are; the master key stays the same, so the
// PostgreSQL nodes need it as CLIENTST0R_MASTER_KEY.
func cmdMigrateToPostgres(e env, args []string) error {
	fs := flags("migrate-to-postgres")
	to := fs.String("to", "", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if dialect, _, err := db.ParseURL(*to); err != nil || dialect != db.Postgres {
		return errors.New("migrate-to-postgres: --to needs a postgres:// URL of an empty database")
	}
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return err
	}
	if cfg.Dialect != db.SQLite {
		return errors.New("migrate-to-postgres: the configured database is not SQLite; nothing to move")
	}
	src, ctx, err := open(e) // checks the master key against this installation
	if err != nil {
		return err
	}
	defer src.Close()
	key, err := app.MasterKey(cfg)
	if err != nil {
		return err
	}
	dst, err := db.Open(e.ctx, *to)
	if err != nil {
		return fmt.Errorf("migrate-to-postgres: %v", err)
	}
	if err := dst.Migrate(e.ctx); err != nil {
		dst.Close()
		return fmt.Errorf("migrate-to-postgres: %v", err)
	}
	total := 0
	err = db.CopyToPostgres(e.ctx, src.DB, dst, func(table string, rows int) {
		total += rows
		if rows > 0 {
			fmt.Fprintf(e.stdout, "%-28s %8d rows\n", table, rows)
		}
	})
	dst.Close()
	if err != nil {
		return fmt.Errorf("migrate-to-postgres: %v", err)
	}
	pg := cfg
	pg.DatabaseURL, pg.Dialect, pg.MasterKey = *to, db.Postgres, key
	a, err := app.Open(ctx, pg, logger(e.stderr, slog.LevelWarn))
	if err != nil {
		return fmt.Errorf("migrate-to-postgres: the copy opens wrongly: %v", err)
	}
	defer a.Close()
	queued, err := a.Store.RequeueUnfinished(auth.WithCaller(e.ctx, auth.System()))
	if err != nil {
		return fmt.Errorf("migrate-to-postgres: %v", err)
	}
	fmt.Fprintf(e.stdout, "copied %d rows; %d pending webhook deliveries queued again\n", total, queued)
	fmt.Fprintf(e.stdout, "start the PostgreSQL nodes with CLIENTST0R_DATABASE_URL=%s and CLIENTST0R_MASTER_KEY set to the key in %s\n",
		redactURL(*to), filepath.Join(cfg.DataDir, "master.key"))
	return nil
}

// redactURL hides a URL's password.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

func cmdVersion(e env, args []string) error {
	if err := parse(flags("version"), args); err != nil {
		return err
	}
	v := app.Version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Fprintf(e.stdout, "clientst0r %s\n", v)
	return nil
}
