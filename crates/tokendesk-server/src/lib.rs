//! TokenDesk's team server (`tokendesk server run`): any number of replicas over one
//! PostgreSQL database. Here so far: the facade's storage on PostgreSQL ([`PgStorage`]), the
//! counterpart of the embedded mode's SQLite file.

pub mod pg;

pub use pg::{PgOptions, PgStorage};
