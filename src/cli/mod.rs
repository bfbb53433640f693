//! The operator commands besides `serve`: `setup` prepares CouchDB, `seed` loads fixtures,
//! and one module per command group works on accounts, users, API keys, configs and login
//! attempts without a Kazoo cluster, writing documents as Kazoo would.

pub mod account;
pub mod api_key;
pub mod attempts;
pub mod config;
pub mod seed;
pub mod setup;
pub mod user;

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use crate::domain::ids::AccountId;
use crate::domain::names::normalize_account_name;
use crate::domain::provisioning::InvalidInput;
use crate::settings::Settings;
use crate::store::{Couch, Store, StoreError};

/// Why an operator command failed; each becomes a message and a non-zero exit.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line asked for something that cannot be done.
    #[error("{0}")]
    Invalid(String),
    /// What the command names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// What the command would create already exists; nothing was overwritten.
    #[error("{0}")]
    Exists(String),
    #[error(transparent)]
    Input(#[from] InvalidInput),
    #[error("CouchDB: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The commands that work on accounts, users, keys, configs and attempts.
#[derive(clap::Subcommand)]
pub enum OperatorCommand {
    /// Create, list and show accounts.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Create users and change their passwords.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Rotate account API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(api_key::ApiKeyCommand),
    /// Show an account's effective security config and where each value comes from.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Export login attempts.
    #[command(subcommand)]
    Attempts(attempts::AttemptsCommand),
}

impl OperatorCommand {
    /// Runs the command.
    pub async fn run(self, op: &Operator) -> Result<(), CliError> {
        match self {
            OperatorCommand::Account(command) => account::run(op, command).await,
            OperatorCommand::User(command) => user::run(op, command).await,
            OperatorCommand::ApiKey(command) => api_key::run(op, command).await,
            OperatorCommand::Config(command) => config::run(op, command).await,
            OperatorCommand::Attempts(command) => attempts::run(op, command).await,
        }
    }
}

/// What every operator command works with.
pub struct Operator {
    pub store: Store,
    /// Unix seconds at the start of the command.
    pub now_unix: i64,
}

impl Operator {
    /// A store without caching on `COUCHDB_URL`: a command reads what is there now.
    pub fn new(settings: &Settings, now_unix: i64) -> Result<Self, CliError> {
        let couch = Couch::new(&settings.couchdb_url, settings.couchdb_timeout)?;
        Ok(Operator {
            store: Store::new(couch, Duration::ZERO, &crate::metrics::Metrics::default()),
            now_unix,
        })
    }

    /// The account a command names: its raw id, else its realm, else its name (normalised
    /// as logins do), which must then name exactly one account. Answers its id and the
    /// live account-database copy of its document.
    pub async fn account(&self, text: &str) -> Result<(AccountId, Value), CliError> {
        let ids = match AccountId::parse(text) {
            Some(id) => vec![id.to_string()],
            None => self.lookup(text).await?,
        };
        let id = match ids.as_slice() {
            [id] => AccountId::parse(id),
            [] => None,
            many => {
                return Err(CliError::Invalid(format!(
                    "{text:?} names several accounts ({}); give the account id",
                    many.join(", ")
                )));
            }
        };
        let missing = || CliError::NotFound(format!("no account {text:?}"));
        let id = id.ok_or_else(missing)?;
        let doc = self
            .store
            .account_document(&id)
            .await?
            .ok_or_else(missing)?;
        Ok((id, doc))
    }

    async fn lookup(&self, text: &str) -> Result<Vec<String>, CliError> {
        let store = &self.store;
        let by_realm = store
            .accounts_by("listing_by_realm", &text.to_lowercase())
            .await?;
        if !by_realm.is_empty() {
            return Ok(by_realm);
        }
        let name = normalize_account_name(text);
        if name.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = store.accounts_by("listing_by_name", &name).await?;
        ids.dedup();
        Ok(ids)
    }
}

/// Writes `text` and a newline to standard output.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    Ok(())
}

/// Writes `value` as indented JSON to standard output.
pub fn print_json(value: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    print(&text)
}

/// A password read from standard input: everything up to the first line break.
pub fn read_password_stdin() -> Result<String, CliError> {
    let mut text = String::new();
    std::io::stdin().read_line(&mut text)?;
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(CliError::Invalid(
            "--password-stdin: standard input holds no password".into(),
        ));
    }
    Ok(password.to_string())
}
