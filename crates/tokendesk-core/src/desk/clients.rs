//! The web ("server") OAuth clients codes are exchanged with: imported from Google Cloud
//! Console's client_secret.json, the secret sealed with the row.

use super::{ClientView, Desk, DeskError, Result};
use crate::client_file::WebClient;
use crate::id_token::get_small;
use crate::provider::{Endpoints, GOOGLE_ISSUER, ProviderError, canonical_issuer};
use crate::seal::SealKind;
use crate::store::{AuditAction, AuditOutcome, ClientUid, NewClient, StoreError};

/// How to add a client.
#[derive(Debug, Clone, Default)]
pub struct AddClient {
    pub name: String,
    pub secrets_json: Vec<u8>,
    /// Another OpenID provider than Google, chosen on purpose (OIDC discovery).
    pub issuer: Option<String>,
    /// Where that provider serves Google's APIs (Drive under `{api_base}/drive/v3/`).
    pub api_base: Option<String>,
    pub ios_client_ids: Vec<String>,
}

impl Desk {
    /// The endpoints of the OpenID provider `issuer`, from its discovery document (OpenID
    /// Connect Discovery); its Google APIs at `api_base` (default: the issuer).
    pub async fn discover(&self, issuer: &str, api_base: Option<&str>) -> Result<Endpoints> {
        let url = Endpoints::discovery_url(issuer)?;
        let response =
            get_small(&self.http, &url)
                .await
                .map_err(|reason| DeskError::Discovery {
                    url: url.to_string(),
                    reason,
                })?;
        if !response.status().is_success() {
            return Err(DeskError::Discovery {
                url: url.to_string(),
                reason: format!("HTTP {}", response.status().as_u16()),
            });
        }
        Endpoints::from_discovery(issuer, response.body(), api_base.unwrap_or(issuer)).map_err(
            |err| match err {
                // An emulator on loopback that names Google's issuer: it runs with its default
                // `--issuer google`, which only a client added without --issuer accepts.
                ProviderError::IssuerMismatch { found, .. }
                    if canonical_issuer(&found) == GOOGLE_ISSUER
                        && loopback_origin(std::slice::from_ref(&issuer.to_owned())).is_some() =>
                {
                    DeskError::EmulatorSignsAsGoogle {
                        url: issuer.to_owned(),
                    }
                }
                other => other.into(),
            },
        )
    }

    pub async fn add_client(&self, req: AddClient) -> Result<ClientView> {
        let web = WebClient::from_json(&req.secrets_json)?;
        if self.storage.client_by_name(&req.name).await?.is_some() {
            return Err(DeskError::ClientExists { name: req.name });
        }
        let (endpoints, foreign) = match &req.issuer {
            None => {
                if !web.endpoints_are_google() {
                    let urls: Vec<String> = web
                        .foreign_endpoints()
                        .iter()
                        .map(|f| f.url.clone())
                        .collect();
                    return Err(DeskError::ForeignEndpoints {
                        hint: loopback_origin(&urls).map_or_else(String::new, |origin| {
                            format!(
                                " (here: --issuer {origin}; a `tokendesk emulator` must run with \
                                 `--issuer origin` for its discovery to name that issuer)"
                            )
                        }),
                        urls: urls.join(", "),
                    });
                }
                (Endpoints::google(), false)
            }
            Some(issuer) => {
                let endpoints = self.discover(issuer, req.api_base.as_deref()).await?;
                let foreign = !endpoints.is_google();
                (endpoints, foreign)
            }
        };
        let endpoints_json =
            serde_json::to_value(&endpoints).map_err(|e| DeskError::StoredEndpoints {
                client: req.name.clone(),
                reason: e.to_string(),
            })?;
        let new = NewClient {
            name: req.name.clone(),
            client_id: web.client_id.clone(),
            issuer: endpoints.issuer().to_owned(),
            endpoints: endpoints_json,
            ios_client_ids: req.ios_client_ids.clone(),
            foreign_endpoints: foreign,
        };
        // The secret is sealed for the row's uid and committed with the row.
        let uid = ClientUid::generate()?;
        let secret = self.sealer().await?.seal_str(
            SealKind::ClientSecret,
            uid.as_str(),
            web.client_secret.secret(),
        )?;
        let entry = self.audit_entry(
            AuditAction::ClientAdd,
            None,
            AuditOutcome::Ok,
            Some(req.name.clone()),
        );
        let client = match self
            .storage
            .add_client(uid, new, secret, entry, self.now())
            .await
        {
            Ok(c) => c,
            Err(StoreError::ClientNameTaken { name }) => {
                return Err(DeskError::ClientExists { name });
            }
            Err(e) => return Err(e.into()),
        };
        Ok(ClientView::of(&client))
    }

    pub async fn clients(&self) -> Result<Vec<ClientView>> {
        Ok(self
            .storage
            .clients()
            .await?
            .iter()
            .map(ClientView::of)
            .collect())
    }

    pub async fn client(&self, name: &str) -> Result<ClientView> {
        Ok(ClientView::of(&self.client_row(Some(name)).await?))
    }

    /// Removes a client (refused while users' grants use it); its sealed secret goes with it.
    pub async fn remove_client(&self, name: &str) -> Result<()> {
        let client = self.client_row(Some(name)).await?;
        let entry = self.audit_entry(
            AuditAction::ClientRemove,
            None,
            AuditOutcome::Ok,
            Some(name.to_owned()),
        );
        self.storage
            .remove_client(&client.uid, entry, self.now())
            .await?;
        self.verifiers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(client.uid.as_str());
        Ok(())
    }
}

/// The one loopback origin all of `urls` are on (a local emulator's), if they share one.
fn loopback_origin(urls: &[String]) -> Option<String> {
    let mut origins = urls.iter().map(|u| {
        let url = url::Url::parse(u).ok()?;
        let loopback = match url.host()? {
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
            url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        };
        loopback.then(|| url.origin().ascii_serialization())
    });
    let first = origins.next()??;
    origins.all(|o| o.as_ref() == Some(&first)).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::loopback_origin;

    #[test]
    fn an_emulators_file_names_its_origin() {
        let urls = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            loopback_origin(&urls(&[
                "http://127.0.0.1:4000/token",
                "http://127.0.0.1:4000/o/oauth2/v2/auth"
            ])),
            Some("http://127.0.0.1:4000".to_owned())
        );
        assert_eq!(
            loopback_origin(&urls(&[
                "http://127.0.0.1:4000/token",
                "http://127.0.0.1:4001/auth"
            ])),
            None,
            "two origins: no single --issuer to suggest"
        );
        assert_eq!(
            loopback_origin(&urls(&["https://idp.example.com/token"])),
            None
        );
    }
}
