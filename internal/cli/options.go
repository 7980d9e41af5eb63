package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/flagenv"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"golang.org/x/time/rate"
)

// flagSet is the command's flagenv.FlagSet (flag > environment > default),
// with its help text.
type flagSet struct {
	*flagenv.FlagSet
	// validate, if set, checks the values once the flags and the
	// environment are applied; parse reports its errors with those of the
	// environment, so that every bad value is listed at once.
	validate  func() []error
	name      string
	printHelp func()
}

// newFlagSet makes the flags of command name. Asked for (--help), its help
// goes to helpOut (standard output: a reader pipes help into less); a bad
// flag is an error that names the help command instead of printing it all.
func newFlagSet(name, summary string, helpOut io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flagenv.New(name), name: name}
	fs.printHelp = func() {
		fmt.Fprintf(helpOut, "Usage: %s %s [flags]\n\n%s\n\nFlags (flag > environment > default):\n", Name, name, summary)
		fs.WriteFlags(helpOut)
	}
	return fs
}

// parseErr turns a flagenv error into the command's result: help on
// standard output and exit 0 for --help, a usage error otherwise.
func (fs *flagSet) parseErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, flag.ErrHelp) {
		fs.printHelp()
		return &exitcode.Error{Code: exitcode.OK, Err: errSilent}
	}
	var ue *flagenv.UsageError
	if errors.As(err, &ue) && ue.CommandLine {
		return usageErr("%v (see %s %s --help)", err, Name, strings.Fields(fs.name)[0]+subcommandOf(fs.name))
	}
	return &exitcode.Error{Code: exitcode.Usage, Err: err}
}

// subcommandOf is " add" for "devices add ID...": the help command of a
// subcommand names it.
func subcommandOf(name string) string {
	f := strings.Fields(name)
	if len(f) > 1 && f[0] == "devices" {
		return " " + f[1]
	}
	return ""
}

// bindEnv declares that flag name falls back to environment variable env.
func (fs *flagSet) bindEnv(name, env string) { fs.BindEnv(name, env) }

// parse parses args (flags only), then fills every flag not given from its
// environment variable.
func (fs *flagSet) parse(args []string, getenv Env) error {
	return fs.checked(fs.Parse(args, getenv))
}

// checked is the outcome of parsing, err, as the command's error: help or
// a bad command line at once; else every bad value, from the environment
// and from fs.validate, in one usage error.
func (fs *flagSet) checked(err error) error {
	var ue *flagenv.UsageError
	if err != nil && !(errors.As(err, &ue) && !ue.CommandLine) {
		return fs.parseErr(err) // help, or a bad command line
	}
	// Every bad value at once: the values that parsed are checked too, and
	// one that came from the environment says so.
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if fs.validate != nil {
		for _, e := range fs.validate() {
			errs = append(errs, fs.fromEnvErr(e))
		}
	}
	if len(errs) > 0 {
		return &exitcode.Error{Code: exitcode.Usage, Err: errors.Join(errs...)}
	}
	return nil
}

// fromEnvErr names the environment variable in a "--flag ..." error about a
// value that came from it.
func (fs *flagSet) fromEnvErr(err error) error {
	msg := err.Error()
	var named error
	fs.VisitAll(func(f *flag.Flag) {
		src := fs.Source(f.Name)
		if named != nil || src == "" || src == "--"+f.Name {
			return
		}
		if rest, ok := strings.CutPrefix(msg, "--"+f.Name); ok && (rest == "" || rest[0] == ' ' || rest[0] == ':') {
			named = fmt.Errorf("environment variable %s: %w", src, err)
		}
	})
	if named != nil {
		return named
	}
	return err
}

// dbOptions are the flags of every command that talks to PostgreSQL.
type dbOptions struct {
	DatabaseURL string
	Pooler      string
}

func (o *dbOptions) register(fs *flagSet) {
	fs.StringVar(&o.DatabaseURL, "database-url", "",
		"PostgreSQL connection URL or keyword/value string; empty means the libpq\nenvironment (PGHOST, PGUSER, PGPASSWORD, ...) and its defaults")
	fs.bindEnv("database-url", "DATABASE_URL")
	fs.StringVar(&o.Pooler, "database-pooler", string(store.PoolerAuto),
		"what stands between the job and PostgreSQL: session (a direct connection, or a\npooler in session mode), transaction (a pooler in transaction mode, such as\nPgBouncer's: no prepared statements, no session settings, no migrations) or\nauto (a pooler that refuses or drops the job's session settings is taken for\na transaction pooler)")
	fs.bindEnv("database-pooler", "DATABASE_POOLER")
}

// openOptions are store.Open's options for these flags (validated).
func (o *dbOptions) openOptions(log *slog.Logger) store.OpenOptions {
	p, _ := store.ParsePooler(o.Pooler)
	return store.OpenOptions{Logger: log, Pooler: p}
}

// validate checks that the database URL parses, without connecting: a URL
// that cannot work is a configuration error (exit 2), like any bad value.
// The value is not echoed: it may hold a password.
func (o *dbOptions) validate() []error {
	var errs []error
	if _, err := store.ParseConfig(o.DatabaseURL); err != nil {
		errs = append(errs, fmt.Errorf("--database-url: %w", err))
	}
	if _, err := store.ParsePooler(o.Pooler); err != nil {
		errs = append(errs, fmt.Errorf("--database-pooler %w", err))
	}
	return errs
}

// logOptions choose the log output.
type logOptions struct {
	Format string
	Level  string
}

func (o *logOptions) register(fs *flagSet) {
	fs.StringVar(&o.Format, "log-format", "auto", "log format: auto (text on a terminal, JSON otherwise), text or json")
	fs.bindEnv("log-format", "LOG_FORMAT")
	fs.StringVar(&o.Level, "log-level", "info", "log level: debug, info, warn or error")
	fs.bindEnv("log-level", "LOG_LEVEL")
}

func (o *logOptions) validate() []error {
	var errs []error
	switch o.Format {
	case "auto", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q: want auto, text or json", o.Format))
	}
	if _, err := parseLevel(o.Level); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// webexOptions are the flags of every command that talks to Webex.
type webexOptions struct {
	TokenFile      string
	APIURL         string
	OrgID          string
	Rate           float64
	Burst          int
	RequestTimeout time.Duration
	MaxAttempts    int
}

// runOptions are the flags of "run".
type runOptions struct {
	dbOptions
	logOptions
	webexOptions
	Concurrency    int
	BatchSize      int
	NoMigrate      bool
	Shard          string
	ShardCount     int
	WaitForLock    time.Duration
	LockLease      time.Duration
	MaxDuration    time.Duration
	Detect         string
	DetailMaxAge   time.Duration
	ListingSample  float64
	PushgatewayURL string
	// TolerateForbidden: devices forbidden in this run and failing in the
	// run before too do not make the exit code 3.
	TolerateForbidden bool

	scope store.Scope // from Shard, or JOB_COMPLETION_INDEX and ShardCount
}

// Defaults safe for a real Webex org: Webex publishes no limit for these
// APIs. 300 a minute (5 a second) is Webex Contact Center's published
// limit, not Calling's; it is kept as a conservative default, and a burst
// of 5 keeps the worst second at 10.
const (
	defaultRate  = 5.0
	defaultBurst = 5
)

func (o *webexOptions) register(fs *flagSet, orgUsage string) {
	fs.StringVar(&o.TokenFile, "token-file", "",
		"file holding the Webex access token (re-read when Webex rejects the token);\nwithout it the token comes from WEBEX_TOKEN. No flag takes the token itself.")
	fs.bindEnv("token-file", "WEBEX_TOKEN_FILE")
	fs.StringVar(&o.APIURL, "api-url", fetch.DefaultBaseURL, "Webex API base URL; plain http only to a loopback host")
	fs.bindEnv("api-url", "WEBEX_API_URL")
	fs.StringVar(&o.OrgID, "org-id", "", orgUsage)
	fs.bindEnv("org-id", "WEBEX_ORG_ID")
	fs.Float64Var(&o.Rate, "rate", defaultRate, "requests per second to Webex, fractional allowed (shared by all workers and retries)")
	fs.bindEnv("rate", "SYNC_RATE")
	fs.IntVar(&o.Burst, "burst", defaultBurst, "requests that may be sent at once above the rate")
	fs.bindEnv("burst", "SYNC_BURST")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", fetch.DefaultRequestTimeout, "time limit of one request, body included")
	fs.bindEnv("request-timeout", "SYNC_REQUEST_TIMEOUT")
	fs.IntVar(&o.MaxAttempts, "max-attempts", fetch.DefaultMaxAttempts, "attempts per request for 5xx, timeouts and connection errors")
	fs.bindEnv("max-attempts", "SYNC_MAX_ATTEMPTS")
}

// validate reports every bad Webex value, before any I/O.
func (o *webexOptions) validate(getenv Env) []error {
	var errs []error
	if math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) || o.Rate <= 0 {
		errs = append(errs, fmt.Errorf("--rate %v: want a number of requests per second above 0", o.Rate))
	}
	if o.Burst < 1 || o.Burst > 10000 {
		errs = append(errs, fmt.Errorf("--burst %d: want 1 to 10000", o.Burst))
	}
	if o.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--request-timeout %v: want a positive duration such as 30s", o.RequestTimeout))
	}
	if o.MaxAttempts < 1 || o.MaxAttempts > 100 {
		errs = append(errs, fmt.Errorf("--max-attempts %d: want 1 to 100", o.MaxAttempts))
	}
	if err := fetch.ValidateBaseURL(o.APIURL); err != nil {
		errs = append(errs, fmt.Errorf("--api-url: %w", err))
	} else if err := fetch.CheckDetailsSupported(o.APIURL); err != nil {
		errs = append(errs, fmt.Errorf("--api-url: %w", err))
	}
	if o.OrgID != "" {
		if _, err := deviceid.ParseOrg(o.OrgID); err != nil {
			errs = append(errs, fmt.Errorf("--org-id: %w", err))
		}
	}
	if tok := getenv("WEBEX_TOKEN"); tok != "" {
		if err := fetch.CheckToken(tok); err != nil {
			errs = append(errs, fmt.Errorf("environment variable WEBEX_TOKEN: %w", err))
		}
	}
	switch hasEnvToken := getenv("WEBEX_TOKEN") != ""; {
	case o.TokenFile != "" && hasEnvToken:
		errs = append(errs, errors.New("both WEBEX_TOKEN and a token file (--token-file / WEBEX_TOKEN_FILE) are set: set only one"))
	case o.TokenFile == "" && !hasEnvToken:
		errs = append(errs, errors.New("no Webex token: set WEBEX_TOKEN, or name a file holding it with --token-file / WEBEX_TOKEN_FILE"))
	}
	return errs
}

// newClient builds the Webex client the options describe. A token file
// that cannot be used is a configuration error like a missing token: exit 2
// (a retry cannot fix it).
func (o *webexOptions) newClient(ctx context.Context, getenv Env, log *slog.Logger) (*fetch.Client, error) {
	var tokens fetch.TokenSource = fetch.StaticToken(getenv("WEBEX_TOKEN"))
	if o.TokenFile != "" {
		ft, err := fetch.NewFileToken(ctx, o.TokenFile)
		if err != nil {
			if ctx.Err() != nil {
				return nil, &exitcode.Error{Code: exitcode.Interrupted, Err: err}
			}
			return nil, usageErr("--token-file: %v", err)
		}
		tokens = ft
	}
	return fetch.NewClient(fetch.Options{
		BaseURL:        o.APIURL,
		Tokens:         tokens,
		Limiter:        rate.NewLimiter(rate.Limit(o.Rate), o.Burst),
		MaxAttempts:    o.MaxAttempts,
		RequestTimeout: o.RequestTimeout,
		Logger:         log,
	})
}

func (o *runOptions) register(fs *flagSet) {
	o.dbOptions.register(fs)
	o.webexOptions.register(fs, "orgId sent for devices whose row has no org_id (partner admins)")
	fs.IntVar(&o.Concurrency, "concurrency", syncrun.DefaultConcurrency, "requests in flight at most")
	fs.bindEnv("concurrency", "SYNC_CONCURRENCY")
	fs.IntVar(&o.BatchSize, "batch-size", syncrun.DefaultBatchSize, "results written per database transaction")
	fs.bindEnv("batch-size", "SYNC_BATCH_SIZE")
	fs.BoolVar(&o.NoMigrate, "no-migrate", false, "do not apply pending migrations; fail if any are pending")
	fs.StringVar(&o.Shard, "shard", "", "sync only shard INDEX/COUNT of the fleet (0-based, e.g. 0/4), with its own lock")
	fs.bindEnv("shard", "SYNC_SHARD")
	fs.IntVar(&o.ShardCount, "shard-count", 0, "in a Kubernetes Indexed Job: the number of shards; the index comes from\nJOB_COMPLETION_INDEX (--shard wins over both)")
	fs.bindEnv("shard-count", "SYNC_SHARD_COUNT")
	fs.DurationVar(&o.WaitForLock, "wait-for-lock", 0, "wait this long for a run of the same scope to finish; 0: exit at once (status 0)")
	fs.bindEnv("wait-for-lock", "SYNC_WAIT_FOR_LOCK")
	fs.DurationVar(&o.LockLease, "lock-lease", store.DefaultLease, "how long the run lock outlives a run that stopped renewing it (killed, or cut\noff from the database): another run takes the scope over only after it; renewed\nevery third of it")
	fs.bindEnv("lock-lease", "SYNC_LOCK_LEASE")
	fs.DurationVar(&o.MaxDuration, "max-duration", 0, "time budget of the run (e.g. 50m): stop cleanly when it runs out, leaving the\nstalest-first rest for the next run; 0: no budget")
	fs.bindEnv("max-duration", "SYNC_MAX_DURATION")
	fs.BoolVar(&o.TolerateForbidden, "tolerate-forbidden", false, "exit 0, not 3, when the only failed devices are forbidden and were failing in\nthe run before too (a location admin's token cannot see every location);\na newly forbidden device, or any error, still exits 3")
	fs.bindEnv("tolerate-forbidden", "SYNC_TOLERATE_FORBIDDEN")
	fs.StringVar(&o.Detect, "detect", string(syncrun.DefaultDetect), "how the run finds the devices that need their details: listing (read GET /v1/devices\nfirst, 100 devices a request; needs spark-admin:devices_read) or none (fetch every device)")
	fs.bindEnv("detect", "SYNC_DETECT")
	fs.DurationVar(&o.DetailMaxAge, "detail-max-age", syncrun.DefaultDetailMaxAge, "with --detect listing: fetch a device's details when they are older than this,\nwhatever the listing says")
	fs.bindEnv("detail-max-age", "SYNC_DETAIL_MAX_AGE")
	fs.Float64Var(&o.ListingSample, "listing-sample", syncrun.DefaultListingSample, "with --detect listing: the share (0 to 1) of the devices the listing vouches for\nthat are fetched all the same, at least 5, to check the listing; 0: none")
	fs.bindEnv("listing-sample", "SYNC_LISTING_SAMPLE")
	fs.StringVar(&o.PushgatewayURL, "pushgateway-url", "", "push the run's metrics to this Prometheus Pushgateway when it ends")
	fs.bindEnv("pushgateway-url", "PUSHGATEWAY_URL")
	o.logOptions.register(fs)
}

// validate reports every bad value at once, before any I/O.
func (o *runOptions) validate(getenv Env) []error {
	errs := append(o.dbOptions.validate(), o.logOptions.validate()...)
	errs = append(errs, o.webexOptions.validate(getenv)...)
	if o.Concurrency < 1 || o.Concurrency > 1000 {
		errs = append(errs, fmt.Errorf("--concurrency %d: want 1 to 1000", o.Concurrency))
	}
	if o.BatchSize < 1 || o.BatchSize > 10000 {
		errs = append(errs, fmt.Errorf("--batch-size %d: want 1 to 10000", o.BatchSize))
	}
	if o.WaitForLock < 0 {
		errs = append(errs, fmt.Errorf("--wait-for-lock %v: want 0 or a positive duration", o.WaitForLock))
	}
	if o.LockLease < 3*time.Second || o.LockLease > time.Hour {
		errs = append(errs, fmt.Errorf("--lock-lease %v: want 3s to 1h", o.LockLease))
	}
	if o.MaxDuration < 0 {
		errs = append(errs, fmt.Errorf("--max-duration %v: want 0 or a positive duration", o.MaxDuration))
	}
	if o.Detect != string(store.DetectListing) && o.Detect != string(store.DetectNone) {
		errs = append(errs, fmt.Errorf("--detect %q: want listing or none", o.Detect))
	}
	if !(o.ListingSample >= 0 && o.ListingSample <= 1) {
		errs = append(errs, fmt.Errorf("--listing-sample %v: want a share from 0 to 1", o.ListingSample))
	}
	if o.DetailMaxAge < time.Minute {
		errs = append(errs, fmt.Errorf("--detail-max-age %v: want at least 1m", o.DetailMaxAge))
	}
	if sc, err := o.resolveScope(getenv); err != nil {
		errs = append(errs, err)
	} else {
		o.scope = sc
	}
	if o.PushgatewayURL != "" {
		if u, err := url.Parse(o.PushgatewayURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--pushgateway-url: want an http or https URL"))
		}
	}
	return errs
}

// resolveScope picks the run's scope: --shard, else an Indexed Job's
// JOB_COMPLETION_INDEX with --shard-count, else the whole fleet.
func (o *runOptions) resolveScope(getenv Env) (store.Scope, error) {
	if o.Shard != "" {
		sc, err := store.ParseScope(o.Shard)
		if err != nil {
			return store.Scope{}, fmt.Errorf("--shard: %w", err)
		}
		return sc, nil
	}
	if o.ShardCount == 0 {
		return store.All, nil
	}
	idx := getenv("JOB_COMPLETION_INDEX")
	if idx == "" {
		return store.Scope{}, errors.New("--shard-count is set but JOB_COMPLETION_INDEX is not: give --shard INDEX/COUNT, or run as a Kubernetes Indexed Job")
	}
	sc, err := store.ParseScope(idx + "/" + strconv.Itoa(o.ShardCount))
	if err != nil {
		return store.Scope{}, fmt.Errorf("JOB_COMPLETION_INDEX with --shard-count: %w", err)
	}
	return sc, nil
}
