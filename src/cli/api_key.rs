//! `kazoo-security api-key rotate`: a new account API key.

use clap::Subcommand;
use serde_json::json;

use super::{CliError, Operator, print, print_json};
use crate::domain::provisioning::new_api_key;
use crate::domain::time::to_gregorian;

/// Manage account API keys.
#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Give an account a new API key, in both copies of its document. Prints the new key.
    /// Running services stop accepting the old key for `api_auth` within their
    /// `CONFIG_CACHE_TTL`.
    Rotate {
        /// The account: its id, realm or name.
        account: String,
        /// Print the account id and new key as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `api-key` command.
pub async fn run(op: &Operator, command: ApiKeyCommand) -> Result<(), CliError> {
    let ApiKeyCommand::Rotate { account, json } = command;
    let (account, _) = op.account(&account).await?;
    if op.store.accounts_copy(&account).await?.is_none() {
        return Err(CliError::NotFound(format!(
            "account {account} has no copy in `accounts`, where api_auth looks keys up"
        )));
    }
    let key = new_api_key();
    let now = to_gregorian(op.now_unix);
    if !op.store.set_api_key(&account, &key, now).await? {
        return Err(CliError::NotFound(format!(
            "a document of account {account} vanished while its key changed; run again"
        )));
    }
    if json {
        print_json(&json!({"account_id": account.as_str(), "api_key": key}))
    } else {
        print(&key)
    }
}
