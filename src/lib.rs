//! kazoo-security: the security module of Kazoo's Crossbar REST API (Kazoo 4.3), as its own
//! service on Kazoo's CouchDB.
//!
//! Requests flow one way: `http` → `handlers` → `domain` and `auth` → `store`.
//!
//! - [`http`]: the edge. Server loop, routing, Crossbar's envelope, `ApiError` (the only
//!   place that knows status codes), CORS, body limits, token and client-IP extraction.
//! - [`handlers`]: one module per resource (`security`, `attempts`, `multi_factor`,
//!   `modules`, `authenticators`); each authenticates, authorizes, validates and acts, in the
//!   API's order of checks. `dashboard` serves the one HTML page, which reads the others.
//! - [`domain`]: the pure core. Config merging, schema validation, permissions, ids and
//!   database names, Gregorian time, paging cursors, lockout, identity signatures, Duo and
//!   TOTP codes, provider settings, account-name normalisation.
//! - [`auth`]: tokens (signing, verification, the key ring), the authenticators' common
//!   login path, the second factor, the rate limit, and the login-attempt documents.
//! - [`store`]: the CouchDB adapter. Documents, views, design-document installation, the
//!   read-through cache, and typed reads of Kazoo's accounts, configs, providers, attempts
//!   and keys.
//! - [`cli`]: the commands besides `serve`: `setup`, `seed`, and the operator commands on
//!   accounts, users, API keys, configs and login attempts; [`settings`]: the environment;
//!   [`state`]: what requests share, including the injectable clock; [`metrics`]: the
//!   Prometheus counters and histograms served at `/metrics`.

pub mod auth;
pub mod cli;
pub mod domain;
pub mod handlers;
pub mod http;
pub mod metrics;
pub mod settings;
pub mod state;
pub mod store;
