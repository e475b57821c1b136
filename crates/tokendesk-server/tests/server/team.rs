//! A team as the tests need it: a database of its own, a key file, the emulator as both the
//! users' Google and the staff's Google Workspace, and replicas started in this process.

use std::path::PathBuf;

use google_emulator::{Emulator, IssuerMode, MintCode, UserSpec};
use tokendesk_core::api::{Role, WhoAmI};
use tokendesk_core::desk::AddClient;
use tokendesk_core::remote::{self, RemoteConsole};
use tokendesk_core::seal::LocalKey;
use tokendesk_core::staff_login::StaffLogin;
use tokendesk_server::PgStorage;
use tokendesk_server::pg::PgOptions;
use tokendesk_server::run::{Server, ServerConfig, StartError};
use tokendesk_server::staff::StaffConfig;
use zeroize::Zeroizing;

use crate::TestDb;
use crate::person::play_the_person;

pub struct Team {
    pub db: TestDb,
    pub emu: Emulator,
    pub key_file: PathBuf,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Team {
    pub async fn new() -> Self {
        let db = TestDb::create().await;
        let emu = Emulator::builder()
            .issuer_mode(IssuerMode::Origin)
            .start()
            .await
            .expect("the emulator starts");
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("kek");
        LocalKey::generate()
            .unwrap()
            .write_new_file(&key_file)
            .unwrap();
        Team {
            db,
            emu,
            key_file,
            // A browser, but the test follows the consent page's redirect itself.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            _dir: dir,
        }
    }

    pub fn config(&self, replica: &str) -> ServerConfig {
        ServerConfig {
            receiver_listen: "127.0.0.1:0".parse().unwrap(),
            admin_listen: "127.0.0.1:0".parse().unwrap(),
            staff: Some(StaffConfig {
                issuer: self.emu.base_url().to_owned(),
                client_id: self.emu.desktop_client().client_id.clone(),
                client_secret: Some(self.emu.desktop_client().client_secret.clone()),
                domain: Some("example.com".into()),
            }),
            pg: PgOptions {
                max_connections: 8,
                max_lock_connections: 24,
                ..PgOptions::default()
            },
            replica: Some(replica.to_owned()),
            ..ServerConfig::new(&self.db.url, &self.key_file)
        }
    }

    pub async fn replica(&self, name: &str) -> Server {
        self.start(self.config(name))
            .await
            .expect("the replica starts")
    }

    pub async fn start(&self, config: ServerConfig) -> Result<Server, StartError> {
        Server::start(config).await
    }

    /// The emulator's web client, as an admin adds it.
    pub async fn add_client(&self, server: &Server) {
        let base = self.emu.base_url().to_owned();
        server
            .desk()
            .add_client(AddClient {
                name: "emu".into(),
                secrets_json: self.emu.client_secret_json().to_string().into_bytes(),
                issuer: Some(base.clone()),
                api_base: Some(base),
                ios_client_ids: vec![self.emu.ios_client_id().to_owned()],
            })
            .await
            .expect("the emulator's client is added");
    }

    /// The database as the server's administrator reaches it.
    pub async fn pg(&self) -> PgStorage {
        self.db.storage().await
    }

    pub async fn add_staff(&self, email: &str, role: Role) {
        self.pg()
            .await
            .staff_add(
                email,
                role,
                "test",
                tokendesk_core::store::Timestamp::from_unix(0),
            )
            .await
            .unwrap();
    }

    /// A serverAuthCode for `email`, as the iOS app gets it.
    pub fn code(&self, email: &str) -> String {
        let spec = MintCode {
            user: UserSpec {
                email: email.to_owned(),
                ..UserSpec::default()
            },
            ..MintCode::default()
        };
        self.emu.mint_code(&spec).unwrap().0
    }

    /// The app's POST of a code to a replica's receiver.
    pub async fn post_code(&self, server: &Server, code: &str) -> u16 {
        self.http
            .post(server.receiver_url())
            .header("X-Requested-With", "XMLHttpRequest")
            .json(&serde_json::json!({ "code": code }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A staff member's sign-in through `server`, the test playing the person at the
    /// consent page as the system browser would show it.
    pub async fn sign_in(
        &self,
        server: &Server,
        email: &str,
    ) -> Result<WhoAmI, tokendesk_core::desk::DeskError> {
        let base = remote::server_url(&server.admin_url()).unwrap();
        let flow = StaffLogin::begin(remote::http_client(None).unwrap(), base).await?;
        let landing = play_the_person(&self.http, flow.url(), email).await;
        // The browser follows the redirect to the loopback listener.
        let landed = self.http.get(&landing).send().await.unwrap();
        assert_eq!(landed.status(), 200);
        flow.finish(std::time::Duration::from_secs(10)).await
    }

    /// A console on `server` for the staff member `email` (signed in) or an API token.
    pub async fn console(
        &self,
        server: &Server,
        token: &str,
    ) -> Result<RemoteConsole, tokendesk_core::desk::DeskError> {
        RemoteConsole::connect(
            remote::server_url(&server.admin_url()).unwrap(),
            Zeroizing::new(token.to_owned()),
            remote::http_client(None).unwrap(),
        )
        .await
    }

    pub async fn staff_console(&self, server: &Server, email: &str) -> RemoteConsole {
        let who = self.sign_in(server, email).await.expect("signed in");
        self.console(server, who.token.as_deref().unwrap())
            .await
            .expect("the session works")
    }
}
