//! The operator commands besides `serve`: `setup` prepares CouchDB, `seed` loads fixtures.

pub mod seed;
pub mod setup;
