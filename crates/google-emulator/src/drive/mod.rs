//! Drive v3, the part a server reaches with `drive.appdata`: each user's appDataFolder with
//! files.list (q, orderBy, pages, a `fields` mask), files.get, files.create (metadata and
//! multipart uploads) and files.delete, with Google's error bodies.

mod auth;
mod fields;
mod handlers;
mod multipart;
mod paging;
mod query;
mod store;

pub use handlers::{create_metadata, delete, get, list, upload};
pub use store::DriveStore;
