//! The provider's JWKS fetched over TokenDesk's HTTP client: no redirects, a size cap, time
//! limits, and the response's `Cache-Control` max-age handed to the cache.

use super::{JwksDocument, JwksFetchError, JwksSource, max_age_from_cache_control};
use crate::oauth::HttpClient;

/// Discovery documents and JWK sets are small; a hostile provider cannot make us read more.
pub const SMALL_BODY: usize = 64 * 1024;

/// A JWKS URL over our HTTP client.
#[derive(Debug, Clone)]
pub struct HttpJwks {
    http: HttpClient,
    url: url::Url,
}

impl HttpJwks {
    pub fn new(http: HttpClient, url: url::Url) -> Self {
        Self { http, url }
    }
}

impl JwksSource for HttpJwks {
    async fn fetch(&self) -> Result<JwksDocument, JwksFetchError> {
        let response = get_small(&self.http, &self.url)
            .await
            .map_err(|reason| JwksFetchError::Unreachable { reason })?;
        if !response.status().is_success() {
            return Err(JwksFetchError::Status {
                status: response.status().as_u16(),
            });
        }
        let max_age = response
            .headers()
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age_from_cache_control);
        Ok(JwksDocument {
            body: response.into_body(),
            max_age,
        })
    }
}

/// A GET of a small JSON document (a JWKS, a discovery document), capped at [`SMALL_BODY`].
pub async fn get_small(
    http: &HttpClient,
    url: &url::Url,
) -> Result<http::Response<Vec<u8>>, String> {
    let request = http::Request::get(url.as_str())
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let timeout = http.config().timeout;
    http.send(request, SMALL_BODY, timeout)
        .await
        .map_err(|e| e.to_string())
}
