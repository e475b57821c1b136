//! The OAuth clients of the emulated Google Cloud project: web, iOS and Desktop app, each with
//! its secret (if any) and the redirect URIs it registered.

use serde::{Deserialize, Serialize};

use super::Db;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    Web,
    Ios,
    /// Google Cloud Console's "Desktop app" (an installed client): loopback redirects on any
    /// port, a client secret that is not confidential, PKCE.
    Desktop,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub secret: Option<String>,
    pub kind: ClientKind,
    /// Exact redirect URIs (web). A desktop client takes any loopback URI instead; these are
    /// only what its client_secret.json lists.
    pub redirect_uris: Vec<String>,
}

impl Db {
    pub fn add_client(&mut self, client: Client) {
        self.clients.insert(client.client_id.clone(), client);
    }
}
