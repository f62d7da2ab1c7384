//! Command-line arguments, as typed by the user. Turned into a validated run in `app`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  assay verify                                  verify every contract under contracts/
  assay verify contracts/orders.yml -o junit=reports/assay.xml
  assay verify -o html=reports/quality.html     a page of this run, with the history's charts
  assay verify --plan contracts/orders.yml      print the SQL, connect to nothing
  assay verify --set START=2025-01-01 --now 2025-06-01T00:00:00Z
  assay verify -d warehouse.yml --fail-on warn --timeout 5m
  assay verify --push                           upload the results (cloud: in assay.yml)
  assay verify --no-failed-rows                 keep no failing rows in the diagnostics store
  assay verify -o github                        annotations on the pull request, a job summary
  assay verify --baseline main.json --fail-on new -o markdown=comment.md
                                                gate only on what this change broke
  assay verify contracts/orders.yml --channel orders --timeout 10m
                                                verify the next result set of a source channel
  assay verify orders.odcs.yaml --server prod   an ODCS v3 contract, on the data source prod

Exit codes: 0 all checks passed, 1 a check failed (or warned with --fail-on warn),
2 bad input (usage, config or contract error; nothing ran), 3 runtime error
(a data source or query failed, some checks were not evaluated), 4 the checks ran
but the results could not be pushed (they wait in .assay/outbox/).";

#[derive(Debug, Parser)]
#[command(
    name = "assay",
    version,
    about = "Verify data against YAML data contracts, inside your own database",
    long_about = "assay turns data contracts (Soda Core v4 contract language) into SQL, runs it \
                  inside your database (embedded DuckDB and data files out of the box, \
                  PostgreSQL, MySQL/MariaDB), and exits with a code your CI can gate on. \
                  Rows never leave your network: failing rows go to a store of yours.",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify contracts and exit with the verdict (the CI gate)
    #[command(after_help = EXAMPLES)]
    Verify(VerifyArgs),
    /// Upload result files, or with no file deliver what waits in the outbox
    #[command(after_help = PUSH_EXAMPLES)]
    Push(PushArgs),
    /// Observe whole data sources: discover, profile, verify, record history, monitor
    #[command(after_help = SCAN_EXAMPLES)]
    Scan(ScanArgs),
    /// Show what scans recorded: series of metrics, or a dataset's schema over time
    #[command(after_help = HISTORY_EXAMPLES)]
    History(HistoryArgs),
    /// Write one self-contained HTML page of data quality over time, from the history
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Run a data channel (a source or sink of records over WebSocket), or list them
    #[command(after_help = CHANNEL_EXAMPLES)]
    Channel(ChannelArgs),
    /// Show the failing rows a run kept in the diagnostics store
    #[command(after_help = ROWS_EXAMPLES)]
    Rows(RowsArgs),
    /// Write a starting contract for each dataset of a data source, from its data
    #[command(after_help = INIT_EXAMPLES)]
    Init(InitArgs),
    /// Work on contract files: convert between ODCS v3 and Soda v4
    #[command(after_help = CONTRACT_EXAMPLES)]
    Contract(ContractArgs),
    /// Receive pushed results into a history store, for every runner of a team; hand
    /// runs to agents
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(ServeArgs),
    /// Ask an `assay serve` for a run of its project's contracts, done by an agent
    #[command(after_help = RUN_EXAMPLES)]
    Run(ServerRunArgs),
    /// Take runs from an `assay serve` and do each as an isolated job in this network
    #[command(after_help = AGENT_EXAMPLES)]
    Agent(AgentArgs),
}

const AGENT_EXAMPLES: &str = "Examples:
  assay agent --server https://assay.internal:8484 --allow-data-source warehouse --allow-env 'PG_*'
  assay agent --server URL --jobs 4 --allow-data-source '*' --allow-env PG_PASSWORD --memory-limit 2GiB
  assay agent --server URL --token-file /run/secrets/assay-agent --ca-certificate ca.pem --grace 2m
  assay agent --server URL --allow-data-source warehouse --id etl-07 --cpu-limit 20m --work-dir /var/tmp/assay

The token (scopes agent and push) is read from $ASSAY_AGENT_TOKEN, or --token-file. Each
run is a child `assay verify` in a private folder, with an environment holding only the
variables its config's ${env.X} placeholders name that --allow-env allows; a config with a
literal secret, a path out of its folder or a data source --allow-data-source does not
name is refused without running. Results go to the server (metrics, never rows), failing
rows to the diagnostics store the run's config names. SIGTERM: no more claims, running
jobs get --grace, then are stopped and go back to the queue. docs/agent-api.md.";

/// How a client reaches `assay serve`.
#[derive(Debug, Args)]
pub struct ServerConnection {
    /// The server, like https://assay.internal:8484
    #[arg(long, value_name = "URL", required = true)]
    pub server: String,

    /// A file holding the token [default: $ASSAY_SERVER_TOKEN for run, $ASSAY_AGENT_TOKEN
    /// for agent]
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// A private CA to verify the server's certificate with (PEM)
    #[arg(long, value_name = "FILE")]
    pub ca_certificate: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub server: ServerConnection,

    /// Jobs at once
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub jobs: usize,

    /// An environment variable a job may be given for a ${env.X} placeholder (a glob
    /// like 'PG_*'; repeatable). Nothing else of the agent's environment reaches a job
    #[arg(long, value_name = "NAME|GLOB")]
    pub allow_env: Vec<String>,

    /// A data source a job's config may define (a name or glob; repeatable)
    #[arg(long, value_name = "NAME|GLOB", required = true)]
    pub allow_data_source: Vec<String>,

    /// After SIGTERM, how long running jobs may go on before they are stopped
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub grace: String,

    /// The agent's name on the server [default: HOST-PID]
    #[arg(long, value_name = "NAME")]
    pub id: Option<String>,

    /// A job's address space, like 2GiB (over it, the job ends with that reason)
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,

    /// A job's CPU time, like 10m
    #[arg(long, value_name = "DURATION")]
    pub cpu_limit: Option<String>,

    /// Where jobs' private folders are made [default: the system's temporary folder]
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,

    #[command(flatten)]
    pub common: Common,
}

const RUN_EXAMPLES: &str = "Examples:
  assay run --server https://assay.internal:8484 contracts/orders.yml
  assay run --server URL contracts/orders.yml contracts/customers.yml --wait
  assay run --server URL contracts/orders.yml --set region=eu --timeout 10m --wait
  assay run --server URL contracts/orders.yml --wait --wait-timeout 30m --token-file ci.token

The contracts are paths inside the server's project (GET /api/v1/project lists them).
The token (run scope) is read from $ASSAY_SERVER_TOKEN, or --token-file. With --wait
the command follows the run and exits as the run did: 0 its checks passed, 1 a check
failed, 2 bad input, 3 it could not run or expired without an agent; without --wait it
prints the run's id and exits 0 once it is queued.";

#[derive(Debug, Args)]
pub struct ServerRunArgs {
    /// Contract files of the server's project, relative to its folder
    #[arg(value_name = "CONTRACT", required = true)]
    pub contracts: Vec<String>,

    #[command(flatten)]
    pub server: ServerConnection,

    /// Set a contract variable, used as ${var.NAME} (repeatable)
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,

    /// Bound the run on the agent (e.g. 10m) [default: 30m]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Wait for the run to end and exit as it did
    #[arg(long)]
    pub wait: bool,

    /// With --wait: give up waiting after this long (the run goes on)
    #[arg(long, value_name = "DURATION", default_value = "2h")]
    pub wait_timeout: String,

    #[command(flatten)]
    pub common: Common,
}

const SERVE_EXAMPLES: &str = "Examples:
  assay serve token create ci --scope push          prints the token once; keep it
  assay serve token create dashboards --scope read --expires 90d
  assay serve                                       http://127.0.0.1:8484, history of assay.yml
  assay serve --listen 0.0.0.0:8484 --tls-certificate cert.pem --tls-key key.pem
  assay serve --max-body 4MiB --rate-limit 600
  assay serve --project /srv/checkout          hand agents the contracts of this folder
  assay serve --project /srv/checkout --lease 30s
  assay serve token list
  assay serve token revoke ci

Runners push to it with `cloud: {endpoint: URL, token: ${env.X}}` in their assay.yml
(`assay verify --push`, `assay push`); `assay history` and `assay report` on the server's
history store show what every runner pushed. Agents (`agent` scope) take runs of the
project asked for with `assay run --server` (`run` scope) or due on its `schedules:`;
the project's assay.yml holds secrets only as ${env.X}. Tokens live hashed in
.assay/server/tokens.json. The API is docs/ingestion-api.md (pushing),
docs/server-api.md (the pages at / and /runs, the read API, runs and the project) and
docs/agent-api.md (agents).";

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(subcommand)]
    pub command: Option<ServeCommand>,

    /// The address to listen on
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8484")]
    pub listen: String,

    /// TLS: the certificate chain (PEM); with --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_certificate: Option<PathBuf>,

    /// TLS: the private key (PEM); with --tls-certificate
    #[arg(long, value_name = "FILE", requires = "tls_certificate")]
    pub tls_key: Option<PathBuf>,

    /// The largest document accepted (after gzip is unpacked), like 16MiB
    #[arg(long, value_name = "SIZE", default_value = "16MiB")]
    pub max_body: String,

    /// Requests per minute one token may make (then 429 with Retry-After)
    #[arg(long, value_name = "N", default_value_t = 6000)]
    pub rate_limit: u32,

    /// The project handed to agents: a folder read again whenever a file in it changes
    /// (a git checkout) [default: the project uploaded with PUT /api/v1/project]
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,

    /// How long an agent's claim holds without a heartbeat before its instruction goes
    /// back to the queue
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub lease: String,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// The server's tokens: create, list, revoke
    Token(TokenArgs),
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token for a client; it is printed once and kept only hashed
    Create(TokenCreateArgs),
    /// Every token: id, name, scopes, state (never the token)
    List,
    /// Revoke a token by its id, or every active token of a name
    Revoke {
        /// The token's id or name
        #[arg(value_name = "ID|NAME")]
        which: String,
    },
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// Who the token is for (a runner, a CI, a dashboard)
    pub name: String,

    /// What it may do: push, read, run, agent, admin (repeat or comma-separate)
    #[arg(long, value_name = "SCOPE", required = true, value_delimiter = ',')]
    pub scope: Vec<String>,

    /// It stops working after this long, like 90d
    #[arg(long, value_name = "DURATION")]
    pub expires: Option<String>,
}

const CONTRACT_EXAMPLES: &str = "Examples:
  assay contract convert orders.odcs.yaml --to soda    a Soda contract per schema object
  assay contract convert orders.odcs.yaml --to soda -o contracts/orders/
  assay contract convert contracts/orders.yml --to odcs -o orders.odcs.yaml

ODCS to Soda writes the contracts `assay verify` runs for the ODCS document (its tables
placed on the data source its servers name: --server, -d, assay.yml). Whatever the other
language cannot hold is listed on stderr. Exit codes: 0 converted, 2 bad input.";

#[derive(Debug, Args)]
pub struct ContractArgs {
    #[command(subcommand)]
    pub command: ContractCommand,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Convert a contract: ODCS v3 to Soda v4 contracts, or Soda v4 to ODCS v3.2.0
    #[command(after_help = CONTRACT_EXAMPLES)]
    Convert(ConvertArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ContractLanguage {
    /// Open Data Contract Standard v3.2.0
    Odcs,
    /// Soda Core v4 contracts (what `assay verify` reads)
    Soda,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The contract to convert
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The language to write
    #[arg(long, value_enum)]
    pub to: ContractLanguage,

    /// Write here [default: stdout]; a folder (one file per dataset) when it is one, ends
    /// in `/`, or an ODCS document has several objects
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// A data source file to add, or the NAME of the configured data source to place
    /// ODCS tables on
    #[arg(short = 'd', long = "data-source", value_name = "FILE|NAME")]
    pub data_sources: Vec<String>,

    /// For ODCS contracts: the server entry (and the data source of that name)
    #[arg(long, value_name = "NAME")]
    pub server: Option<String>,
}

const INIT_EXAMPLES: &str = "Examples:
  assay init                          a contract for every dataset of every data source
  assay init shop                     every dataset of the data source shop
  assay init shop 'orders*'           those whose name starts with orders
  assay init shop 'shop/public/*' --out contracts/new

Each dataset is read by one profiling query (and one more for the values of text columns
with few values); its contract goes to OUT/<data source>/<path>.yml. Every suggested
check passes on today's data and says why it is there. Existing files are never
overwritten.";

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The data source [default: every configured one]
    #[arg(value_name = "DATA_SOURCE")]
    pub data_source: Option<String>,

    /// Only datasets this glob selects: a path (shop/public/*) or a last part (orders*)
    #[arg(value_name = "GLOB")]
    pub glob: Option<String>,

    /// The folder the contracts go to
    #[arg(long, value_name = "DIR", default_value = "contracts")]
    pub out: PathBuf,

    /// The time freshness is measured to [default: now]
    #[arg(long, value_name = "TIMESTAMP")]
    pub now: Option<String>,

    #[command(flatten)]
    pub common: Common,
}

const ROWS_EXAMPLES: &str = "Examples:
  assay rows                                  every check's rows of the latest run that kept any
  assay rows orders                           a dataset's (data_source/path, or its last part)
  assay rows columns/id/missing --limit 20    one check's
  assay rows orders --scan 0c1f… -o csv=bad.csv
  assay rows --list                           which runs kept rows, for which checks

The rows are read from the diagnostics store of assay.yml (by default the DuckDB file
.assay/diagnostics.duckdb) through its own engine: no database client is needed.";

#[derive(Debug, Args)]
pub struct RowsArgs {
    /// A dataset (data_source/path or its last part), a check id (columns/id/missing),
    /// or both (local/orders/columns/id/missing) [default: all of the run]
    #[arg(value_name = "DATASET_OR_CHECK")]
    pub what: Option<String>,

    /// The run (its scan_id) [default: the latest run that kept rows for the selection]
    #[arg(long, value_name = "ID")]
    pub scan: Option<String>,

    /// At most this many rows per check
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: usize,

    /// List the runs and checks that kept rows instead of the rows
    #[arg(long)]
    pub list: bool,

    /// table (default), csv or json; FORMAT=PATH writes a file
    #[arg(short = 'o', long = "output", value_name = "FORMAT[=PATH]")]
    pub output: Option<String>,

    #[command(flatten)]
    pub common: Common,
}

const CHANNEL_EXAMPLES: &str = "Examples:
  assay channel run channels/orders.yml                  until Ctrl-C or SIGTERM
  assay channel run channels/orders.yml --every 5m --for 8h
  assay channel run channels/orders.yml --at 2026-03-01T02:00:00Z
  assay channel list --environment development -o json

A source sends what it reads when it starts and then every --every, to every consumer
connected then; a sink stores every record it gets. Channels register themselves in
.assay/channels/ (or ASSAY_CHANNEL_REGISTRY) while they run. The protocol is in
docs/channels.md.";

/// Options every command takes: the project's config and how much it says. Global, so
/// they may come before or after a sub-command.
#[derive(Debug, Args)]
pub struct Common {
    /// Project config file [default: ./assay.yml when present]
    #[arg(short = 'c', long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Only errors on stderr (and what was asked for on stdout)
    #[arg(short, long, conflicts_with = "verbose", global = true)]
    pub quiet: bool,

    /// More logging (-v, -vv)
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Args)]
pub struct ChannelArgs {
    #[command(subcommand)]
    pub command: ChannelCommand,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Run a channel as a service until it is stopped (Ctrl-C, SIGTERM, --for)
    Run(ChannelRunArgs),
    /// The channels running now, with their counters
    List(ChannelListArgs),
}

#[derive(Debug, Args)]
pub struct ChannelRunArgs {
    /// The channel file
    #[arg(value_name = "CHANNEL.yml")]
    pub file: PathBuf,

    /// Start at this time (RFC 3339) instead of now
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,

    /// A source reads and sends a new result set this often (30s, 5m, 1h)
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,

    /// Stop after this long [default: run until stopped]
    #[arg(long = "for", value_name = "DURATION")]
    pub for_: Option<String>,
}

#[derive(Debug, Args)]
pub struct ChannelListArgs {
    /// Only channels visible in this environment (deployed or exposed there)
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,

    /// table (default) or json
    #[arg(short = 'o', long = "output", value_name = "FORMAT")]
    pub output: Option<String>,
}

const HISTORY_EXAMPLES: &str = "Examples:
  assay history                                   every recorded series
  assay history shop/main/orders --metric row_count --since 30d
  assay history shop/main/orders --column email -o csv
  assay history schema shop/main/orders           its schema snapshots and changes
  assay history export shop/main/orders row_count -o csv=orders.csv
  assay history backtest orders.csv --sensitivity high -o json=verdicts.json
  assay history accept shop/main/orders row_count --at 2026-03-01T00:00:00Z

backtest replays the anomaly monitor over a timestamp,value CSV, judging each point
from the points before it, exactly as scans would have; export writes a recorded series
in that form; accept records that a change is expected: the baseline re-learns from it.";

const REPORT_EXAMPLES: &str = "Examples:
  assay report                              .assay/report.html over the last 90 days
  assay report -o quality.html --since 30d  another file, the last 30 days
  assay report 'shop/main/*'                only the datasets a glob selects

The page works offline (no script, font or style from the network): open it from disk
or attach it to a CI run. It reads the history store that assay scan writes.";

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Dataset globs (data_source/path; * within a part, ** across parts) [default: all]
    #[arg(value_name = "DATASET")]
    pub datasets: Vec<String>,

    /// The page's file [default: .assay/report.html]
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Scans measured within this long before now (90d, 12h)
    #[arg(long, value_name = "DURATION", default_value = "90d")]
    pub since: String,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,

    /// A dataset (data_source/path) [default: every recorded series]
    #[arg(value_name = "DATASET")]
    pub dataset: Option<String>,

    /// Only this metric (row_count, missing_count, check:ID, ...)
    #[arg(long, value_name = "METRIC")]
    pub metric: Option<String>,

    /// Only this column's series
    #[arg(long, value_name = "COLUMN")]
    pub column: Option<String>,

    /// Only points measured within this long before now (30d, 12h)
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,

    /// table (default), csv or json; FORMAT=PATH writes a file
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT[=PATH]",
        global = true
    )]
    pub output: Option<String>,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// A dataset's schema snapshots and changes
    Schema {
        /// The dataset (data_source/path)
        #[arg(value_name = "DATASET")]
        dataset: String,
    },
    /// A recorded series as timestamp,value CSV (what backtest reads)
    Export(SeriesArgs),
    /// Record that a series' change is expected: its baseline re-learns from there
    Accept {
        #[command(flatten)]
        series: SeriesArgs,

        /// The time from which the change is expected [default: the latest point]
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Replay the anomaly monitor over a timestamp,value CSV, as scans would judge it
    Backtest(BacktestArgs),
}

/// One recorded series: a dataset's metric (of a column).
#[derive(Debug, Args)]
pub struct SeriesArgs {
    /// The dataset (data_source/path)
    #[arg(value_name = "DATASET")]
    pub dataset: String,

    /// The metric (row_count, missing_count, check:ID, ...)
    #[arg(value_name = "METRIC")]
    pub metric: String,

    /// The column, for a column's metric
    #[arg(long, value_name = "COLUMN")]
    pub column: Option<String>,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The series: CSV with the header timestamp,value
    #[arg(value_name = "SERIES.csv")]
    pub file: PathBuf,

    /// low, medium (default), high, or the range's half-width in robust standard
    /// deviations
    #[arg(long, value_name = "LEVEL")]
    pub sensitivity: Option<String>,

    /// auto (default), none, daily, weekly
    #[arg(long, value_name = "SEASONALITY")]
    pub seasonality: Option<String>,

    /// both (default), up, down
    #[arg(long, value_name = "DIRECTION")]
    pub direction: Option<String>,

    /// Points of history before judging [default: two weeks' worth]
    #[arg(long, value_name = "POINTS")]
    pub min_history: Option<usize>,

    /// Month ends have a season of their own
    #[arg(long)]
    pub month_end: bool,

    /// A date neither judged nor learned, or FROM..TO (repeatable)
    #[arg(long = "exclude", value_name = "DATE[..DATE]")]
    pub exclude: Vec<String>,
}

const SCAN_EXAMPLES: &str = "Examples:
  assay scan                          scan every configured data source
  assay scan shop --now 2025-06-01T00:00:00Z     one source, at a set time (backfills)
  assay scan -o html=quality.html     and a page of data quality over time (assay report)
  assay scan --contracts odcs/ --server prod     ODCS contracts, their server entry prod

Exit codes: 0 nothing failed, 1 a check or a monitor at level fail failed, 2 bad input,
3 a source could not be scanned or the history not written (the rest still runs).";

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Data sources to scan [default: every configured one]
    #[arg(value_name = "DATA_SOURCE")]
    pub data_sources: Vec<String>,

    /// Contracts to verify for the datasets scanned [default: contracts/ when present]
    #[arg(long, value_name = "DIR")]
    pub contracts: Option<PathBuf>,

    /// Set a contract variable (repeatable)
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,

    /// For ODCS contracts: the server entry (and the data source of that name) to run on
    #[arg(long, value_name = "NAME")]
    pub server: Option<String>,

    /// Output: table (default), json, junit, markdown, html, github; FORMAT=PATH writes a file
    #[arg(short = 'o', long = "output", value_name = "FORMAT[=PATH]")]
    pub outputs: Vec<String>,

    /// Do not capture failing rows
    #[arg(long)]
    pub no_failed_rows: bool,

    /// Push the scan's results (and profile gauges to a Pushgateway) as `cloud:` says
    #[arg(long)]
    pub push: bool,

    /// Exit 1 on warnings too
    #[arg(long, value_enum, default_value_t = FailOnArg::Fail)]
    pub fail_on: FailOnArg,

    /// Stop the scan after this long (30s, 5m)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// How long to wait for another scan that holds the history
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub lock_timeout: String,

    /// Datasets verified at once
    #[arg(short = 'j', long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,

    /// The scan's timestamp [default: now]; for backfills and tests
    #[arg(long, value_name = "TIMESTAMP")]
    pub now: Option<String>,

    #[command(flatten)]
    pub common: Common,
}

const PUSH_EXAMPLES: &str = "Examples:
  assay push                       deliver everything waiting in .assay/outbox/
  assay push results.json          upload a results document written with -o json=results.json

Exit codes: 0 everything was delivered, 2 bad input, 4 something still waits (said why).";

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Results documents or outbox entries to upload [default: the outbox]
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// exit 1 only when a check fails
    Fail,
    /// exit 1 when a check fails or warns
    Warn,
    /// exit 1 only when a check fails that passed in the --baseline results (verify)
    New,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Contract files or folders to verify [default: every *.yml/*.yaml under contracts/]
    #[arg(value_name = "CONTRACT_OR_DIR")]
    pub paths: Vec<PathBuf>,

    /// A data source file to add, or the NAME of a configured data source to restrict
    /// the run to (repeatable)
    #[arg(short = 'd', long = "data-source", value_name = "FILE|NAME")]
    pub data_sources: Vec<String>,

    /// Set a contract variable, used as ${var.NAME} (repeatable)
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,

    /// For ODCS contracts: the server entry (and the data source of that name) to run on
    #[arg(long, value_name = "NAME")]
    pub server: Option<String>,

    /// Output format, optionally to a file: table, json, junit, markdown, html, github
    /// (repeatable)
    #[arg(short = 'o', long = "output", value_name = "FORMAT[=PATH]")]
    pub outputs: Vec<String>,

    /// Compare each check with the same check in these earlier results (written with
    /// -o json=FILE, e.g. on the main branch): new failure, still failing, fixed
    #[arg(long, value_name = "RESULTS.json")]
    pub baseline: Option<PathBuf>,

    /// Print the SQL each dataset would run, connect to nothing, exit 0
    #[arg(long)]
    pub plan: bool,

    /// Do not capture failing rows into the diagnostics store
    #[arg(long)]
    pub no_failed_rows: bool,

    /// Upload the results to the targets under `cloud:` in assay.yml; what cannot be
    /// delivered waits in .assay/outbox/ and the run exits 4
    #[arg(long, conflicts_with = "plan")]
    pub push: bool,

    /// Which outcome makes the run exit 1 (new: only checks the --baseline passed)
    #[arg(long, value_enum, default_value_t = FailOnArg::Fail)]
    pub fail_on: FailOnArg,

    /// Bound the whole run (e.g. 30s, 5m); running queries are cancelled when it expires
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Datasets verified concurrently
    #[arg(short = 'j', long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,

    /// Verify one result set received from this source channel (found in the channel
    /// registry) instead of the contract's table
    #[arg(long, value_name = "NAME")]
    pub channel: Option<String>,

    /// The environment whose channels --channel sees
    #[arg(
        long,
        value_name = "NAME",
        env = "ASSAY_ENVIRONMENT",
        default_value = "default"
    )]
    pub environment: String,

    /// The run's "now" (RFC 3339), for reproducible freshness checks and ${var.NOW}
    #[arg(long, value_name = "TIMESTAMP")]
    pub now: Option<String>,

    #[command(flatten)]
    pub common: Common,
}
