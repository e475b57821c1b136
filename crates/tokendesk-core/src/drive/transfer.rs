//! A file of the appDataFolder read (metadata, then content), written (a multipart upload:
//! metadata and content in one request) or deleted. Sizes are capped both ways, and a file is
//! never created twice by a retry.

use http::Method;
use serde_json::json;
use url::Url;

use super::{
    DEFAULT_FILE_FIELDS, DriveError, DriveFile, DriveRequest, Failure, files_url,
    send_with_retries, verdict,
};
use crate::oauth::http::HttpClient;
use crate::oauth::retry::Verdict;
use crate::provider::Endpoints;
use crate::secret::AccessToken;

/// The largest file TokenDesk downloads (25 MiB): support staff look at app data, which is
/// small; a larger file is refused from its metadata before a byte of it is read.
pub const DOWNLOAD_LIMIT: u64 = 25 * 1024 * 1024;
/// The largest file TokenDesk uploads: Google documents 5 MB as the most a one-request
/// (multipart) upload may carry; larger files need resumable uploads, which TokenDesk does not
/// do.
pub const UPLOAD_LIMIT: u64 = 5_000_000;
/// What Google Docs types start with: they have no content `alt=media` could return.
const GOOGLE_APPS_TYPE: &str = "application/vnd.google-apps.";

/// A file to put in the user's appDataFolder.
#[derive(Clone, PartialEq, Eq)]
pub struct DriveUpload {
    pub name: String,
    /// `None`: `application/octet-stream`.
    pub mime_type: Option<String>,
    pub content: Vec<u8>,
}

impl std::fmt::Debug for DriveUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A user's data: its size, never its bytes.
        f.debug_struct("DriveUpload")
            .field("name", &self.name)
            .field("mime_type", &self.mime_type)
            .field("bytes", &self.content.len())
            .finish()
    }
}

impl DriveUpload {
    pub fn mime_type(&self) -> &str {
        self.mime_type
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .unwrap_or("application/octet-stream")
    }

    /// Refuses what Drive would refuse, before anything is sent.
    pub fn check(&self) -> Result<(), DriveError> {
        let size = self.content.len() as u64;
        if size > UPLOAD_LIMIT {
            return Err(DriveError::UploadTooLarge {
                size,
                limit: UPLOAD_LIMIT,
            });
        }
        let name = self.name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(DriveError::InvalidRequest {
                reason: "a file name must be non-empty text without control characters".into(),
            });
        }
        if self.mime_type().parse::<http::HeaderValue>().is_err() || !self.mime_type().contains('/')
        {
            return Err(DriveError::InvalidRequest {
                reason: format!(
                    "{:?} is not a MIME type (e.g. application/json)",
                    self.mime_type()
                ),
            });
        }
        Ok(())
    }
}

/// A MIME type from a file name's extension, for the types apps keep in their appDataFolder;
/// `application/octet-stream` for the rest.
pub fn mime_type_for(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => "application/json",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "xml" => "application/xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "sqlite" | "db" => "application/x-sqlite3",
        _ => "application/octet-stream",
    }
}

/// `files/{id}`, the ID percent-encoded as one path segment.
fn file_url(endpoints: &Endpoints, id: &str) -> Result<Url, DriveError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(DriveError::InvalidRequest {
            reason: "no file ID given; `tokendesk drive USER` lists the files and their IDs".into(),
        });
    }
    let mut url = files_url(endpoints, "files")?;
    url.path_segments_mut()
        .map_err(|()| DriveError::Setup {
            detail: "the Drive API base URL cannot hold a path".into(),
        })?
        .push(id);
    Ok(url)
}

/// Where uploads go: Drive's upload endpoint beside the API base
/// (`https://www.googleapis.com/upload/drive/v3/files`).
fn upload_url(endpoints: &Endpoints) -> Result<Url, DriveError> {
    let base = &endpoints.drive_api_base;
    let prefix = base
        .path()
        .strip_suffix("drive/v3/")
        .ok_or_else(|| DriveError::Setup {
            detail: format!("the Drive API base {base} does not end with drive/v3/"),
        })?;
    let mut url = base.clone();
    url.set_path(&format!("{prefix}upload/drive/v3/files"));
    Ok(url)
}

/// A file's metadata.
pub async fn get_file(
    http: &HttpClient,
    endpoints: &Endpoints,
    token: &AccessToken,
    id: &str,
) -> Result<DriveFile, DriveError> {
    let mut url = file_url(endpoints, id)?;
    url.query_pairs_mut()
        .append_pair("fields", DEFAULT_FILE_FIELDS);
    let request = DriveRequest {
        method: Method::GET,
        url: &url,
        accept: "application/json",
        body: None,
        limit: http.config().api_body_limit,
    };
    let body = send_with_retries(http, &request, token, verdict).await?;
    serde_json::from_slice(&body).map_err(|_| DriveError::UnexpectedResponse { status: 200 })
}

/// A file's metadata and content. A file over [`DOWNLOAD_LIMIT`] is refused from its
/// metadata; the content is read up to the limit in any case (a size that lied stops there).
pub async fn download_file(
    http: &HttpClient,
    endpoints: &Endpoints,
    token: &AccessToken,
    id: &str,
) -> Result<(DriveFile, Vec<u8>), DriveError> {
    let file = get_file(http, endpoints, token, id).await?;
    if file.mime_type.starts_with(GOOGLE_APPS_TYPE) {
        return Err(DriveError::NotDownloadable {
            mime_type: file.mime_type,
        });
    }
    if let Some(size) = file.size.filter(|s| *s > DOWNLOAD_LIMIT) {
        return Err(DriveError::DownloadTooLarge {
            size,
            limit: DOWNLOAD_LIMIT,
        });
    }
    let mut url = file_url(endpoints, &file.id)?;
    url.query_pairs_mut().append_pair("alt", "media");
    let request = DriveRequest {
        method: Method::GET,
        url: &url,
        accept: "*/*",
        body: None,
        limit: usize::try_from(DOWNLOAD_LIMIT).unwrap_or(usize::MAX),
    };
    match send_with_retries(http, &request, token, verdict).await {
        Ok(content) => Ok((file, content)),
        Err(DriveError::BodyTooLarge { .. }) => Err(DriveError::DownloadTooLarge {
            size: DOWNLOAD_LIMIT + 1,
            limit: DOWNLOAD_LIMIT,
        }),
        Err(err) => Err(err),
    }
}

/// Creating a file is not idempotent: it is resent only when the request surely created
/// nothing (no connection was made, or Drive said it was over a rate limit).
fn upload_verdict(failure: &Failure) -> Verdict {
    match failure {
        Failure::Http(err) if err.nothing_sent() => Verdict::Retry { retry_after: None },
        Failure::Answer { retry_after, .. } if failure.is_rate_limit() => Verdict::Retry {
            retry_after: *retry_after,
        },
        _ => Verdict::Stop,
    }
}

/// Puts a file in the user's appDataFolder (one multipart request: metadata, then content).
pub async fn upload_file(
    http: &HttpClient,
    endpoints: &Endpoints,
    token: &AccessToken,
    upload: &DriveUpload,
) -> Result<DriveFile, DriveError> {
    upload.check()?;
    let mut url = upload_url(endpoints)?;
    url.query_pairs_mut()
        .append_pair("uploadType", "multipart")
        .append_pair("fields", DEFAULT_FILE_FIELDS);
    let metadata = json!({
        "name": upload.name.trim(),
        "mimeType": upload.mime_type(),
        "parents": ["appDataFolder"],
    });
    let boundary = boundary_for(&upload.content)?;
    let mut body = Vec::with_capacity(upload.content.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n\
             --{boundary}\r\nContent-Type: {}\r\n\r\n",
            upload.mime_type()
        )
        .as_bytes(),
    );
    body.extend_from_slice(&upload.content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = DriveRequest {
        method: Method::POST,
        url: &url,
        accept: "application/json",
        body: Some((format!("multipart/related; boundary={boundary}"), &body)),
        limit: http.config().api_body_limit,
    };
    let answer = send_with_retries(http, &request, token, upload_verdict).await?;
    serde_json::from_slice(&answer).map_err(|_| DriveError::UnexpectedResponse { status: 200 })
}

/// A multipart boundary that does not occur in `content`.
fn boundary_for(content: &[u8]) -> Result<String, DriveError> {
    for _ in 0..8 {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| DriveError::Setup {
            detail: "the system's random generator failed".into(),
        })?;
        let boundary: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let boundary = format!("tokendesk-{boundary}");
        if !content
            .windows(boundary.len())
            .any(|w| w == boundary.as_bytes())
        {
            return Ok(boundary);
        }
    }
    Err(DriveError::Setup {
        detail: "no multipart boundary could be found outside the file's bytes".into(),
    })
}

/// Deletes a file for good (appDataFolder files skip the trash). Deleting is idempotent, so it
/// is resent like a read.
pub async fn delete_file(
    http: &HttpClient,
    endpoints: &Endpoints,
    token: &AccessToken,
    id: &str,
) -> Result<(), DriveError> {
    let url = file_url(endpoints, id)?;
    let request = DriveRequest {
        method: Method::DELETE,
        url: &url,
        accept: "application/json",
        body: None,
        limit: http.config().api_body_limit,
    };
    send_with_retries(http, &request, token, verdict)
        .await
        .map(drop)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uploads_go_to_the_upload_endpoint_beside_the_api() {
        assert_eq!(
            upload_url(&Endpoints::google()).unwrap().as_str(),
            "https://www.googleapis.com/upload/drive/v3/files"
        );
        let mut emulator = Endpoints::google();
        emulator.drive_api_base = Url::parse("http://127.0.0.1:4000/prefix/drive/v3/").unwrap();
        assert_eq!(
            upload_url(&emulator).unwrap().as_str(),
            "http://127.0.0.1:4000/prefix/upload/drive/v3/files",
            "a base under a path keeps it"
        );
    }

    #[test]
    fn a_type_is_guessed_from_the_extension_only() {
        assert_eq!(mime_type_for("save.JSON"), "application/json");
        assert_eq!(mime_type_for("notes"), "application/octet-stream");
        assert_eq!(
            mime_type_for("archive.json.bak"),
            "application/octet-stream"
        );
    }

    #[test]
    fn a_file_id_is_one_path_segment() {
        let url = file_url(&Endpoints::google(), "a/../b?c").unwrap();
        assert_eq!(
            url.as_str(),
            "https://www.googleapis.com/drive/v3/files/a%2F..%2Fb%3Fc",
            "an ID cannot reach another path or add a query"
        );
        assert!(matches!(
            file_url(&Endpoints::google(), " "),
            Err(DriveError::InvalidRequest { .. })
        ));
    }

    #[test]
    fn an_upload_over_the_cap_is_refused_before_sending() {
        let upload = DriveUpload {
            name: "big.bin".into(),
            mime_type: None,
            content: vec![0; UPLOAD_LIMIT as usize + 1],
        };
        assert!(matches!(
            upload.check(),
            Err(DriveError::UploadTooLarge { size, .. }) if size == UPLOAD_LIMIT + 1
        ));
        let exact = DriveUpload {
            content: vec![0; UPLOAD_LIMIT as usize],
            ..upload.clone()
        };
        assert!(exact.check().is_ok(), "the limit itself is allowed");
        assert_eq!(exact.mime_type(), "application/octet-stream");
        assert!(!format!("{exact:?}").contains("[0, 0"), "never the bytes");
        let bad_type = DriveUpload {
            mime_type: Some("json".into()),
            content: Vec::new(),
            ..upload
        };
        assert!(matches!(
            bad_type.check(),
            Err(DriveError::InvalidRequest { .. })
        ));
    }
}
