//! TokenDesk's team server: the facade's storage on PostgreSQL ([`pg`]), shared by any number
//! of replicas ([`run`]), each serving the seed's receiver and the admin API ([`api`]) to
//! staff who sign in ([`staff`]) or hold API tokens ([`auth`]), with roles.

pub mod api;
pub mod auth;
pub mod people;
pub mod pg;
pub mod run;
pub mod spread;
pub mod staff;

pub use pg::{PgOptions, PgStorage};
