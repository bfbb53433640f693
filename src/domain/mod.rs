//! The pure core: no I/O, no HTTP, no CouchDB. Everything here is a function of its inputs
//! and is unit-tested next to its code.
//!
//! - `cursor`: paging cursors of attempt listings, including Kazoo's encoded keys.
//! - `ids`: account ids, database names, attempt ids and their months.
//! - `time`: Gregorian and Unix seconds, UTC months.
//! - `lockout`: when repeated failed logins lock a client IP out.
//! - `merge`: the effective-config merge and the PATCH merge.
//! - `sources`: the same effective merge, naming the layer each value comes from.
//! - `provisioning`: what an operator may create: names, realms, usernames, passwords, and
//!   the credentials hashes and API keys Kazoo derives.
//! - `providers`: multi-factor provider configurations and their masked secrets.
//! - `schema`: validation of a security config, with Kazoo's string coercions.
//! - `permissions`: who may manage an account's security, the multi-factor tree rule.
//! - `signatures`: identity signatures of tokens.
//! - `duo`: Duo Web v2 settings, signed challenges and the check of their responses.
//! - `totp`: RFC 6238 one-time codes: secrets, enrollment URIs, verification once per step.
//! - `names`: account-name normalisation and E.164 phone numbers.

pub mod cursor;
pub mod duo;
pub mod ids;
pub mod lockout;
pub mod merge;
pub mod names;
pub mod permissions;
pub mod providers;
pub mod provisioning;
pub mod schema;
pub mod signatures;
pub mod sources;
pub mod time;
pub mod totp;
