//! `kazoo-security config show`: an account's effective security config, value by value,
//! with the layer each value comes from.

use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::{CliError, Operator, print, print_json};
use crate::domain::sources::{TracedConfig, pointer, traced_config};

/// Inspect security configs.
#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Show an account's effective security config and the source of each value: default
    /// (built in), system (system_config/crossbar.auth), reseller ID or ancestor ID (an
    /// ancestor's config), or account (its own config).
    Show {
        /// The account: its id, realm or name.
        account: String,
        /// Print the effective config and the sources (by JSON pointer) as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `config` command.
pub async fn run(op: &Operator, command: ConfigCommand) -> Result<(), CliError> {
    let ConfigCommand::Show { account, json } = command;
    let (id, _) = op.account(&account).await?;
    let missing = || CliError::NotFound(format!("no account {id}"));
    let account = op.store.account(&id).await?.ok_or_else(missing)?;
    let layers = op.store.config_layers(&account).await?;

    let TracedConfig {
        layers: sources,
        effective,
        origins,
    } = traced_config(&layers.inherited, layers.own.as_ref());

    if json {
        let by_pointer: Map<String, Value> = origins
            .iter()
            .map(|(path, source)| (pointer(path), json!(source.to_string())))
            .collect();
        return print_json(&json!({
            "account_id": id.as_str(),
            "is_reseller": layers.is_reseller,
            "nearest_reseller": layers.nearest_reseller,
            "layers": sources,
            "effective": effective,
            "sources": by_pointer,
        }));
    }

    print(&format!("account {id} ({})", account.name))?;
    print(&format!("layers, lowest first: {}", sources.join(", ")))?;
    if layers.own.is_none() {
        print("the account has no config of its own")?;
    }
    let rows: Vec<(String, String, String)> = origins
        .iter()
        .map(|(path, source)| {
            let value = path.iter().fold(&effective, |v, key| &v[key.as_str()]);
            (path.join("."), value.to_string(), source.to_string())
        })
        .collect();
    let width =
        |pick: fn(&(String, String, String)) -> usize| rows.iter().map(pick).max().unwrap_or(0);
    let (path_width, value_width) = (width(|r| r.0.len()), width(|r| r.1.len()));
    print("")?;
    for (path, value, source) in rows {
        print(&format!(
            "{path:<path_width$}  {value:<value_width$}  {source}"
        ))?;
    }
    Ok(())
}
