//! The command line: every subcommand and option, as clap reads them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokendesk_core::store::{AuditAction, AuditOutcome, Timestamp};

#[derive(Debug, Parser)]
#[command(
    name = "tokendesk",
    version = tokendesk_core::VERSION_LINE,
    about = "The console for the server side of Google Sign-In"
)]
pub struct Cli {
    /// Print one JSON document on stdout (errors: {"error": {"code", "message"}}).
    #[arg(long, global = true)]
    pub json: bool,
    /// Where the SQLite store lives (default: $TOKENDESK_HOME, else ~/.local/share/tokendesk).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Work on a team server (its admin API, e.g. https://tokendesk.example.com:8443) instead
    /// of the embedded store. Credentials: the session of `tokendesk --server URL login`,
    /// else an API token in TOKENDESK_TOKEN.
    #[arg(long, global = true, env = "TOKENDESK_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// A PEM file of the CA that signed the team server's certificate (an organization's own
    /// CA), trusted besides the system's.
    #[arg(long, global = true, env = "TOKENDESK_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// PEM certificates to trust beside the system's (an organization's CA, a TLS-inspecting
    /// proxy's) for every call to Google or the provider. Proxies come from HTTPS_PROXY,
    /// HTTP_PROXY and NO_PROXY.
    #[arg(long, global = true, value_name = "FILE", env = "TOKENDESK_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Configure the web (server) OAuth clients codes are exchanged with.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Exchange a serverAuthCode for tokens, verify the ID token, store the user.
    Exchange {
        #[arg(long)]
        client: Option<String>,
        /// "" (default: iOS/Android serverAuthCodes), "postmessage" (web popups), or a URL.
        #[arg(long, default_value = "")]
        redirect_uri: String,
        /// The code; "-" reads it from stdin.
        code: String,
    },
    /// List users, optionally searching email, name or sub; or export them all.
    Users {
        /// Only users whose email, name or sub matches TEXT (exact matches first).
        #[arg(long, conflicts_with = "export", value_name = "TEXT")]
        search: Option<String>,
        #[arg(long, default_value_t = 50, conflicts_with = "export")]
        limit: usize,
        /// Every user (profiles and token health, never a token) as CSV or JSON (audited).
        #[arg(long, value_enum, value_name = "FORMAT")]
        export: Option<ExportFormat>,
        /// Where the export goes (default: stdout).
        #[arg(long, value_name = "FILE", requires = "export")]
        out: Option<PathBuf>,
    },
    /// One user: profile from the ID token, token state, scopes, claims.
    User {
        sub_or_email: String,
        /// Also print the access and refresh tokens (audited).
        #[arg(long)]
        reveal: bool,
    },
    /// Get a new access token with the stored refresh token.
    Refresh {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        sub_or_email: Option<String>,
        /// Every user with a live refresh token.
        #[arg(long)]
        all: bool,
        /// Users refreshed at once with --all (on a team server: by each replica).
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long)]
        client: Option<String>,
    },
    /// The health sweep, for cron: every grant with a live refresh token checked (tokeninfo
    /// while its access token has time left, else a refresh), grants Google refuses marked
    /// invalid, and the users who need attention listed. Exit 10 when someone does, 5 when
    /// Google could not answer for some grants.
    Health {
        /// Grants checked at once (on a team server: on the replica called, at most 32).
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// An access token with less than this left is refreshed, and listed as expiring when
        /// nothing can renew it: seconds, or with a unit (90s, 10m, 1h).
        #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
        expiring_within: u64,
        /// Only print who needs attention, as stored: no call to Google (a viewer may).
        #[arg(long)]
        list: bool,
    },
    /// Revoke the user's grant at Google: the whole grant dies (every token of it).
    Revoke {
        sub_or_email: String,
        #[arg(long)]
        client: Option<String>,
    },
    /// The store's key (tokens are sealed in the store under a key kept in the OS keyring):
    /// move it to another machine, or replace it.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Decode and verify a JWT (every check), or ask tokeninfo about an access token.
    Inspect {
        #[arg(long)]
        client: Option<String>,
        /// The token; "-" reads it from stdin.
        token: String,
    },
    /// The user's Drive appDataFolder: its files, or one downloaded, uploaded or deleted.
    Drive(DriveArgs),
    /// Receive serverAuthCodes over HTTP(S) POST /auth/code, as the seed's backend.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8400")]
        listen: SocketAddr,
        #[arg(long)]
        client: Option<String>,
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Allow a non-loopback address (needs TLS).
        #[arg(long)]
        allow_non_loopback: bool,
        /// A public host name apps reach the receiver by (the Host header they send, with the
        /// listening port, the scheme's default port or none); repeatable.
        #[arg(long = "allowed-host", value_name = "HOST")]
        allowed_hosts: Vec<String>,
    },
    /// Run the offline Google emulator (OAuth 2.0, OpenID Connect, Drive appDataFolder).
    ///
    /// Prints its base URL alone on the first line of stdout, then serves until Ctrl-C.
    Emulator(EmulatorArgs),
    /// The audit log: every exchange, refresh, revoke, reveal and failure, newest first.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Only entries about this user (sub or email).
        #[arg(long, value_name = "SUB_OR_EMAIL")]
        user: Option<String>,
        /// Only this action (exchange, refresh, revoke, reveal, drive, drive_download...;
        /// a wrong one lists them all).
        #[arg(long, value_parser = parse_action)]
        action: Option<AuditAction>,
        /// Only this outcome: ok, failed, denied.
        #[arg(long, value_parser = parse_outcome)]
        outcome: Option<AuditOutcome>,
        /// Only entries at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z).
        #[arg(long, value_parser = parse_time)]
        since: Option<Timestamp>,
        /// Only entries whose actor, detail or user's email contains TEXT (or whose user's sub
        /// is TEXT).
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// After the newest entries, print each new one as it happens until Ctrl-C (on a team
        /// server: live from every replica). With --json, one JSON object per line.
        #[arg(long, conflicts_with_all = ["user", "since", "search"])]
        follow: bool,
    },
    /// A user's recent operations as HTTP (every request and response, secrets masked), or
    /// one request as a curl command.
    Http {
        sub_or_email: String,
        /// Operations at most, newest first (each user keeps their newest 50).
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// One request as a curl command: ENTRY (the operation's first request) or ENTRY.N
        /// (its request N, from 0), as the listing numbers them. Secrets are shell variables.
        #[arg(long, value_name = "ENTRY[.N]", value_parser = parse_request_ref)]
        curl: Option<(i64, usize)>,
        /// With --curl: write in the client secret and the grant's tokens as stored now
        /// (audited; an admin's on a team server). The command is then a password.
        #[arg(long, requires = "curl")]
        reveal: bool,
    },
    /// The sign-in lab: run a client's authorization-code flow in your browser (loopback
    /// redirect, PKCE) and see each step as it happens: the authorization URL, the redirect,
    /// the exchange (raw, secrets masked), the ID token's checks, the stored user.
    Signin(SigninArgs),
    /// Sign in to the team server given by --server, as staff: your browser opens the staff
    /// sign-in (Google Workspace); the session is kept in the OS keyring.
    Login,
    /// End the session on the team server given by --server, and forget it here.
    Logout,
    /// Run and administer a team server on PostgreSQL (on the server's machine).
    #[command(subcommand)]
    Server(ServerCommand),
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Write the manual pages (tokendesk.1, tokendesk-SUBCOMMAND.1...) into DIR: the packages
    /// generate them from this very definition, so they never drift from the options.
    #[command(hide = true)]
    Man { dir: PathBuf },
}

/// Where a team server's database and key are, for commands run on its machine.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerStore {
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE
    #[arg(long, env = "TOKENDESK_DATABASE_URL", value_name = "URL")]
    pub database: String,
    /// The key-encryption key (`tokendesk server keygen FILE`), mode 0600.
    #[arg(long, env = "TOKENDESK_KEY_FILE", value_name = "FILE")]
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    /// Users, profiles, token health, the audit log, inspect.
    Viewer,
    /// Also exchange, refresh, revoke, Drive.
    Operator,
    /// Also reveal tokens, clients, staff and API tokens.
    Admin,
}

impl From<RoleArg> for tokendesk_core::api::Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Viewer => Self::Viewer,
            RoleArg::Operator => Self::Operator,
            RoleArg::Admin => Self::Admin,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Write a new key-encryption key to FILE (mode 0600); never overwrites a file.
    Keygen { file: PathBuf },
    /// Run one replica: the receiver (POST /auth/code) and the admin API, over PostgreSQL.
    /// Run as many as you like on one database.
    Run(Box<ServerRunArgs>),
    /// Re-wrap the database's data keys under a new key file, retiring the old key. Running
    /// replicas keep working; restart each with --key-file NEW.
    RotateKey {
        #[command(flatten)]
        store: ServerStore,
        /// The new key (`tokendesk server keygen NEW`).
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
    },
    /// API tokens for automation, each with a role.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Who may sign in as staff, and with which role.
    #[command(subcommand)]
    Staff(StaffCommand),
}

#[derive(Debug, clap::Args)]
pub struct ServerRunArgs {
    #[command(flatten)]
    pub store: ServerStore,
    /// Where the seed's apps POST their serverAuthCodes.
    #[arg(
        long,
        env = "TOKENDESK_RECEIVER_LISTEN",
        default_value = "127.0.0.1:8400",
        value_name = "ADDR"
    )]
    pub receiver_listen: SocketAddr,
    /// Where staff and automation reach the admin API.
    #[arg(
        long,
        env = "TOKENDESK_ADMIN_LISTEN",
        default_value = "127.0.0.1:8443",
        value_name = "ADDR"
    )]
    pub admin_listen: SocketAddr,
    /// The certificate chain (PEM) both listeners serve.
    #[arg(
        long,
        env = "TOKENDESK_TLS_CERT",
        requires = "tls_key",
        value_name = "FILE"
    )]
    pub tls_cert: Option<PathBuf>,
    #[arg(
        long,
        env = "TOKENDESK_TLS_KEY",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    pub tls_key: Option<PathBuf>,
    /// Allow non-loopback addresses (needs TLS).
    #[arg(long, env = "TOKENDESK_ALLOW_NON_LOOPBACK")]
    pub allow_non_loopback: bool,
    /// A public host name apps reach the receiver by; repeatable (in the environment: names
    /// separated by commas).
    #[arg(
        long = "allowed-host",
        env = "TOKENDESK_ALLOWED_HOSTS",
        value_delimiter = ',',
        value_name = "HOST"
    )]
    pub allowed_hosts: Vec<String>,
    /// The OAuth client received codes are exchanged with (needed when there are several).
    #[arg(long, env = "TOKENDESK_CLIENT")]
    pub client: Option<String>,
    /// The staff provider: https://accounts.google.com for Google Workspace.
    #[arg(
        long,
        env = "TOKENDESK_STAFF_ISSUER",
        requires = "staff_client_id",
        value_name = "URL"
    )]
    pub staff_issuer: Option<String>,
    /// The Desktop-app OAuth client staff sign in with.
    #[arg(
        long,
        env = "TOKENDESK_STAFF_CLIENT_ID",
        requires = "staff_issuer",
        value_name = "ID"
    )]
    pub staff_client_id: Option<String>,
    /// Its client secret (Google gives Desktop apps one; it is not confidential).
    #[arg(long, env = "TOKENDESK_STAFF_CLIENT_SECRET", hide_env_values = true)]
    pub staff_client_secret: Option<String>,
    /// Only accounts of this Google Workspace domain may sign in (the ID token's hd).
    #[arg(long, env = "TOKENDESK_STAFF_DOMAIN", value_name = "DOMAIN")]
    pub staff_domain: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token; it is printed once (with --json: {"token", "name", "role"}).
    Create {
        #[command(flatten)]
        store: ServerStore,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// The API tokens: name, role, when made and last used, whether revoked (never the token).
    List {
        #[command(flatten)]
        store: ServerStore,
    },
    /// Revoke an API token: it stops working at once, on every replica.
    Revoke {
        #[command(flatten)]
        store: ServerStore,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add a staff member (their Google Workspace email), or change their role.
    Add {
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[command(flatten)]
        store: ServerStore,
    },
    /// Who may sign in as staff, with their roles.
    List {
        #[command(flatten)]
        store: ServerStore,
    },
    /// Remove a staff member; their sessions end at once.
    Remove {
        email: String,
        #[command(flatten)]
        store: ServerStore,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Import a client_secret.json downloaded from Google Cloud Console (Web application).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "FILE")]
        secrets: PathBuf,
        /// Another OpenID provider than Google, e.g. `tokendesk emulator --issuer origin`'s
        /// URL (OIDC discovery).
        #[arg(long)]
        issuer: Option<String>,
        /// Where that provider serves Drive (`{api_base}/drive/v3/`; default: the issuer).
        #[arg(long, requires = "issuer")]
        api_base: Option<String>,
        /// The iOS (or Android) client ID whose sign-ins send codes here; repeatable.
        #[arg(long = "ios-client-id")]
        ios_client_ids: Vec<String>,
    },
    List,
    Show {
        name: String,
    },
    Remove {
        name: String,
    },
    /// Write every client's public configuration (no secret) for another desk to import.
    Export {
        /// Where it goes (default: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Import clients from a `client export` file. A client's secret is not in that file:
    /// each client is added only when its client_secret.json is given (--secrets NAME=FILE);
    /// the others are listed with the command that adds them.
    ImportFile {
        file: PathBuf,
        /// The client_secret.json of the client NAME; repeatable.
        #[arg(long = "secrets", value_name = "NAME=FILE", value_parser = parse_secrets)]
        secrets: Vec<(String, PathBuf)>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct DriveArgs {
    #[command(subcommand)]
    pub action: Option<DriveCommand>,
    /// The user whose appDataFolder is listed.
    #[arg(required = true)]
    pub sub_or_email: Option<String>,
    #[arg(long)]
    pub client: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DriveCommand {
    /// Download a file (at most 25 MiB) to --out FILE, or to stdout. Audited.
    Download {
        sub_or_email: String,
        file_id: String,
        /// Where the file goes (default: stdout; required with --json).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[arg(long)]
        client: Option<String>,
    },
    /// Upload a file (at most 5 MB) into the user's appDataFolder. Asks first; audited.
    Upload {
        sub_or_email: String,
        file: PathBuf,
        /// The name in Drive (default: the file's name).
        #[arg(long)]
        name: Option<String>,
        /// The MIME type (default: from the extension, else application/octet-stream).
        #[arg(long, value_name = "TYPE")]
        mime: Option<String>,
        /// Do not ask (needed without a terminal).
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        client: Option<String>,
    },
    /// Delete a file of the user's appDataFolder for good. Asks first; audited.
    Delete {
        sub_or_email: String,
        file_id: String,
        /// Do not ask (needed without a terminal).
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        client: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Write a client_secret.json (Google Cloud Console's shape) for its web client here.
    #[arg(long, value_name = "FILE")]
    pub client_secret_out: Option<PathBuf>,
    /// Allow a non-loopback address. The emulator gives tokens to anyone who asks.
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// The `iss` of its ID tokens: Google's (as Google signs), Google's legacy form, or the
    /// emulator's own origin (for clients that require issuer == discovery URL, such as
    /// `tokendesk client add --issuer`).
    #[arg(long, value_enum, default_value = "google")]
    pub issuer: IssuerArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum IssuerArg {
    Google,
    GoogleLegacy,
    Origin,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write the store's key, sealed under a passphrase, to FILE (for another machine).
    Export {
        file: PathBuf,
        /// Read the passphrase from this file (else TOKENDESK_KEY_PASSPHRASE, else a prompt).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Put a key exported by `tokendesk key export` into this machine's keyring, for this
    /// store (checked against the store first).
    Import {
        file: PathBuf,
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Replace the store's key: its data keys are re-wrapped under a new one (no token is
    /// touched), then the old key is deleted from the keyring.
    Rotate,
}

fn parse_action(text: &str) -> Result<AuditAction, String> {
    AuditAction::parse(text).ok_or_else(|| {
        let all: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        format!("{text:?} is not an audit action: {}", all.join(", "))
    })
}

fn parse_secrets(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_owned(), PathBuf::from(path)))
        }
        _ => Err(format!(
            "{text:?} is not NAME=FILE (the client's name in the export, then its \
             client_secret.json)"
        )),
    }
}

fn parse_outcome(text: &str) -> Result<AuditOutcome, String> {
    AuditOutcome::parse(text)
        .ok_or_else(|| format!("{text:?} is not an audit outcome: ok, failed or denied"))
}

/// A kept request, from `ENTRY` or `ENTRY.N`.
fn parse_request_ref(text: &str) -> Result<(i64, usize), String> {
    let text = text.trim().trim_start_matches('#');
    let (entry, index) = text.split_once('.').unwrap_or((text, "0"));
    match (entry.parse::<i64>(), index.parse::<usize>()) {
        (Ok(entry), Ok(index)) if entry > 0 => Ok((entry, index)),
        _ => Err(format!(
            "{text:?}: give the operation's number from `tokendesk http USER` (like 12), or \
             NUMBER.N for its request N (like 12.1)"
        )),
    }
}

/// Seconds, from `600`, `600s`, `10m`, `1h` or `1d`.
fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?}: give seconds, or a number with s, m, h or d"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per))
        .ok_or_else(|| format!("{text:?}: give seconds, or a number with s, m, h or d"))
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text)
        .ok_or_else(|| format!("{text:?} is not an RFC 3339 time, e.g. 2026-12-01T00:00:00Z"))
}

/// `tokendesk signin`: what the sign-in lab asks for.
#[derive(Debug, Clone, clap::Args)]
pub struct SigninArgs {
    /// The client (default: the only one).
    #[arg(long)]
    pub client: Option<String>,
    /// A scope to ask for (repeatable, or space-separated): openid, email, profile,
    /// drive.appdata (short for https://www.googleapis.com/auth/drive.appdata), or a URL.
    /// Default: openid email profile drive.appdata.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// offline: a refresh token (at the first consent, or with --prompt consent).
    #[arg(long, value_enum, default_value = "offline")]
    pub access_type: AccessTypeArg,
    /// none, consent, select_account (repeatable, or comma-separated; none alone).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub prompt: Vec<PromptArg>,
    /// Also the scopes the person granted this client before (include_granted_scopes=true).
    #[arg(long)]
    pub include_granted_scopes: bool,
    /// The account to preselect (login_hint).
    #[arg(long, value_name = "EMAIL")]
    pub login_hint: Option<String>,
    /// A Google Workspace domain (hd); the lab checks the ID token's hd claim against it.
    #[arg(long, value_name = "DOMAIN")]
    pub hd: Option<String>,
    /// The loopback port of the redirect (default: any free one). A Web client needs
    /// http://127.0.0.1:PORT/ registered as an authorized redirect URI, exactly.
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AccessTypeArg {
    Online,
    Offline,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PromptArg {
    None,
    Consent,
    #[value(name = "select_account")]
    SelectAccount,
}

impl SigninArgs {
    /// The lab's request.
    pub fn request(&self) -> tokendesk_core::signin_lab::LabRequest {
        use tokendesk_core::signin_lab::{AccessType, LabRequest, Prompt};
        LabRequest {
            client: self.client.clone(),
            scopes: self.scopes.clone(),
            access_type: match self.access_type {
                AccessTypeArg::Online => AccessType::Online,
                AccessTypeArg::Offline => AccessType::Offline,
            },
            prompt: self
                .prompt
                .iter()
                .map(|p| match p {
                    PromptArg::None => Prompt::None,
                    PromptArg::Consent => Prompt::Consent,
                    PromptArg::SelectAccount => Prompt::SelectAccount,
                })
                .collect(),
            include_granted_scopes: self.include_granted_scopes,
            login_hint: self.login_hint.clone(),
            hd: self.hd.clone(),
            port: self.port,
        }
    }
}
