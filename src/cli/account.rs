//! `kazoo-security account create|list|show`: accounts as Kazoo makes them.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{CliError, Operator, print, print_json};
use crate::domain::ids::{AccountId, new_raw_id};
use crate::domain::merge::public_part;
use crate::domain::names::normalize_account_name;
use crate::domain::provisioning::{account_name, generated_realm, new_api_key, realm};
use crate::domain::time::to_gregorian;
use crate::store::StoreError;
use crate::store::accounts::pvt_tree;
use crate::store::kazoo_documents::NewAccount;

/// Accounts listed per CouchDB request.
const LIST_PAGE: usize = 500;

/// Kazoo's default suffix of generated realms (`crossbar.accounts` `account_realm_suffix`).
const DEFAULT_REALM_SUFFIX: &str = "sip.2600hz.com";

/// Create, list and show accounts.
#[derive(Subcommand)]
pub enum AccountCommand {
    /// Create an account as Kazoo does: its database with design documents, both copies of
    /// its document, its services document. Prints the new account id.
    ///
    /// Without --parent the account goes under the master account; when no account exists
    /// at all it becomes the master (super-duper admin, reseller).
    Create(CreateArgs),
    /// List every account: id, parent, whether it is a reseller, realm and name.
    List {
        /// One JSON array instead of columns.
        #[arg(long)]
        json: bool,
    },
    /// Show the public fields of an account's document, as JSON.
    Show {
        /// The account: its id, realm or name.
        account: String,
    },
}

/// The options of `account create`.
#[derive(Args)]
pub struct CreateArgs {
    /// The account's name (logins by name compare it lower-cased, letters and digits only).
    #[arg(long)]
    pub name: String,
    /// The parent account: its id, realm or name.
    #[arg(long, value_name = "ACCOUNT")]
    pub parent: Option<String>,
    /// Make the account a reseller (its services document says so).
    #[arg(long)]
    pub reseller: bool,
    /// The SIP realm; by default 8 random hex characters and the configured suffix.
    #[arg(long)]
    pub realm: Option<String>,
    /// Print the new account as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs one `account` command.
pub async fn run(op: &Operator, command: AccountCommand) -> Result<(), CliError> {
    match command {
        AccountCommand::Create(args) => create(op, args).await,
        AccountCommand::List { json } => list(op, json).await,
        AccountCommand::Show { account } => show(op, &account).await,
    }
}

/// Where a new account goes in the tree.
struct Placement {
    tree: Vec<String>,
    /// The parent's `pvt_enabled`, `None` for a root.
    pvt_enabled: Option<bool>,
    /// Whether the account becomes the master: the first account of all.
    master: bool,
}

async fn create(op: &Operator, args: CreateArgs) -> Result<(), CliError> {
    let name = account_name(&args.name)?;
    if normalize_account_name(&name).is_empty() {
        return Err(CliError::Invalid(
            "name: needs a letter or digit, by which logins find the account".into(),
        ));
    }
    let realm = match &args.realm {
        Some(text) => realm(text)?,
        None => generated_realm(&realm_suffix(op).await?),
    };
    ensure_unique(op, &name, &realm).await?;
    let placement = placement(op, args.parent.as_deref()).await?;

    let id = AccountId::parse(&new_raw_id()).expect("new ids are raw ids");
    let reseller = args.reseller || placement.master;
    let reseller_id = match placement.master {
        true => id.to_string(),
        false => reseller_above(op, &placement.tree).await?,
    };
    let api_key = new_api_key();
    let now = to_gregorian(op.now_unix);
    let new = NewAccount {
        id: &id,
        name: &name,
        realm: &realm,
        tree: &placement.tree,
        api_key: &api_key,
        reseller,
        reseller_id: &reseller_id,
        superduper_admin: placement.master,
        pvt_enabled: placement.pvt_enabled,
        now_gregorian: now,
    };
    match op.store.create_account(&new).await {
        Err(StoreError::Conflict) => {
            return Err(CliError::Exists(format!(
                "a database or document of account {id} already exists; nothing was overwritten"
            )));
        }
        other => other?,
    }
    if placement.master {
        op.store.ensure_master_account(&id, now).await?;
    }

    if args.json {
        print_json(&json!({
            "id": id.as_str(), "name": name, "realm": realm,
            "parent": placement.tree.last(), "tree": placement.tree,
            "is_reseller": reseller, "reseller_id": reseller_id,
            "superduper_admin": placement.master,
        }))
    } else {
        if placement.master {
            eprintln!("account {id} is the master account (super-duper admin, reseller)");
        }
        print(id.as_str())
    }
}

/// The suffix of generated realms: `crossbar.accounts` `account_realm_suffix`, or Kazoo's.
async fn realm_suffix(op: &Operator) -> Result<String, CliError> {
    let config = op.store.system_config("crossbar.accounts").await?;
    let suffix = config["account_realm_suffix"].as_str().map(str::trim);
    let suffix = suffix
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_REALM_SUFFIX);
    Ok(suffix.to_string())
}

/// Refuses a realm or a name another account has: logins find accounts by them.
async fn ensure_unique(op: &Operator, name: &str, realm: &str) -> Result<(), CliError> {
    let taken = op.store.accounts_by("listing_by_realm", realm).await?;
    if let Some(other) = taken.first() {
        return Err(CliError::Exists(format!(
            "realm {realm:?} belongs to account {other}"
        )));
    }
    let normalized = normalize_account_name(name);
    let taken = op.store.accounts_by("listing_by_name", &normalized).await?;
    if let Some(other) = taken.first() {
        return Err(CliError::Exists(format!(
            "account {other} has the same name for logins ({normalized:?})"
        )));
    }
    Ok(())
}

/// The tree of a new account: under `parent`, else under the master account, else none.
async fn placement(op: &Operator, parent: Option<&str>) -> Result<Placement, CliError> {
    let parent_id = match parent {
        Some(text) => Some(op.account(text).await?),
        None => match op.store.master_account_id().await? {
            Some(master) => Some(op.account(&master).await.map_err(|_| {
                CliError::NotFound(format!(
                    "the master account {master} is missing; give --parent"
                ))
            })?),
            None if op.store.any_account_exists().await? => {
                return Err(CliError::Invalid(
                    "no master account can be found; give --parent".into(),
                ));
            }
            None => None,
        },
    };
    let Some((id, doc)) = parent_id else {
        return Ok(Placement {
            tree: Vec::new(),
            pvt_enabled: None,
            master: true,
        });
    };
    let mut tree = pvt_tree(&doc);
    tree.push(id.to_string());
    Ok(Placement {
        tree,
        pvt_enabled: Some(doc["pvt_enabled"] != Value::Bool(false)),
        master: false,
    })
}

/// The reseller of a new account under `tree`: the nearest reseller ancestor, else the
/// master account.
async fn reseller_above(op: &Operator, tree: &[String]) -> Result<String, CliError> {
    let flags = op.store.reseller_flags(tree).await?;
    let nearest = tree.iter().zip(flags).rev().find(|(_, reseller)| *reseller);
    if let Some((id, _)) = nearest {
        return Ok(id.clone());
    }
    let master = op.store.master_account_id().await?;
    Ok(master.or_else(|| tree.first().cloned()).unwrap_or_default())
}

async fn list(op: &Operator, json: bool) -> Result<(), CliError> {
    if json {
        print("[")?;
    } else {
        print(&format!(
            "{:<32}  {:<32}  {:<8}  {:<32}  NAME",
            "ID", "PARENT", "RESELLER", "REALM"
        ))?;
    }
    let mut after: Option<Value> = None;
    // A JSON row is printed once the next one is known, to end all but the last with a comma.
    let mut pending: Option<Value> = None;
    loop {
        let page = op.store.list_accounts(after.as_ref(), LIST_PAGE).await?;
        for account in &page {
            if json {
                let row = json!({
                    "id": account.id, "name": account.name, "realm": account.realm,
                    "parent": account.parent, "is_reseller": account.reseller,
                });
                if let Some(previous) = pending.replace(row) {
                    print(&format!("  {previous},"))?;
                }
            } else {
                print(&format!(
                    "{:<32}  {:<32}  {:<8}  {:<32}  {}",
                    account.id,
                    account.parent.as_deref().unwrap_or("-"),
                    if account.reseller { "yes" } else { "no" },
                    account.realm.as_deref().unwrap_or("-"),
                    account.name.as_deref().unwrap_or("-"),
                ))?;
            }
        }
        if page.len() < LIST_PAGE {
            break;
        }
        after = page.last().map(|a| a.key.clone());
    }
    if json {
        if let Some(last) = pending {
            print(&format!("  {last}"))?;
        }
        print("]")?;
    }
    Ok(())
}

async fn show(op: &Operator, account: &str) -> Result<(), CliError> {
    let (id, doc) = op.account(account).await?;
    let mut shown = serde_json::Map::new();
    shown.insert("id".into(), json!(id.as_str()));
    shown.extend(public_part(&doc));
    print_json(&Value::Object(shown))
}
