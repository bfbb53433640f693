//! `kazoo-security user create|passwd`: users and their credentials as Kazoo stores them.

use clap::{Args, Subcommand};
use serde_json::json;

use super::{CliError, Operator, print, print_json, read_password_stdin};
use crate::domain::provisioning::{credential_hashes, generated_password, password, username};
use crate::domain::time::to_gregorian;
use crate::store::StoreError;
use crate::store::kazoo_documents::{NewUser, user_document};

/// Create users and change their passwords.
#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user of an account, with the credentials hashes logins check. Prints the
    /// user id, and the password when one was generated (shown this once).
    Create(CreateArgs),
    /// Change a user's password. The user's identity secret changes with it, as in Kazoo,
    /// so the tokens issued before stop working. Prints a generated password once.
    Passwd(PasswdArgs),
}

/// Where a password comes from.
#[derive(Args)]
pub struct PasswordArgs {
    /// The password (visible to other local users in the process list: prefer
    /// --password-stdin). Without either, a random one is generated and printed.
    #[arg(long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

/// The options of `user create`.
#[derive(Args)]
pub struct CreateArgs {
    /// The account: its id, realm or name.
    pub account: String,
    /// The login name, unique in the account; stored lower-cased.
    #[arg(long)]
    pub username: String,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Make the user an admin of the account (`priv_level` admin, else user).
    #[arg(long)]
    pub admin: bool,
    /// First name; the username by default.
    #[arg(long)]
    pub first_name: Option<String>,
    /// Last name; "User" by default.
    #[arg(long)]
    pub last_name: Option<String>,
    /// E-mail address.
    #[arg(long)]
    pub email: Option<String>,
    /// Print the new user as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The options of `user passwd`.
#[derive(Args)]
pub struct PasswdArgs {
    /// The account: its id, realm or name.
    pub account: String,
    /// The user's login name.
    pub username: String,
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// Runs one `user` command.
pub async fn run(op: &Operator, command: UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::Create(args) => create(op, args).await,
        UserCommand::Passwd(args) => passwd(op, args).await,
    }
}

/// The password to set, and whether it was generated (and so must be shown).
fn chosen_password(args: &PasswordArgs) -> Result<(String, bool), CliError> {
    let (text, generated) = match (&args.password, args.password_stdin) {
        (Some(given), _) => (given.clone(), false),
        (None, true) => (read_password_stdin()?, false),
        (None, false) => (generated_password(), true),
    };
    password(&text)?;
    Ok((text, generated))
}

async fn create(op: &Operator, args: CreateArgs) -> Result<(), CliError> {
    let username = username(&args.username)?;
    let (account, _) = op.account(&args.account).await?;
    let (password, generated) = chosen_password(&args.password)?;
    if let Some(other) = op.store.user_by_username(&account, &username).await? {
        return Err(CliError::Exists(format!(
            "account {account} already has a user {username:?} ({})",
            other["_id"].as_str().unwrap_or_default()
        )));
    }

    let (md5, sha1) = credential_hashes(&username, &password);
    let new = NewUser {
        account: &account,
        username: &username,
        first_name: args.first_name.as_deref().unwrap_or(&username),
        last_name: args.last_name.as_deref().unwrap_or("User"),
        email: args.email.as_deref(),
        admin: args.admin,
        hashes: (&md5, &sha1),
        now_gregorian: to_gregorian(op.now_unix),
    };
    let doc = user_document(&new);
    let id = doc["_id"].as_str().unwrap_or_default().to_string();
    match op.store.create_user(&account, &doc).await {
        Err(StoreError::Conflict) => {
            return Err(CliError::Exists(format!(
                "a document {id} already exists in account {account}; nothing was overwritten"
            )));
        }
        other => other?,
    }

    if args.json {
        let mut shown = json!({
            "id": id, "account_id": account.as_str(), "username": username,
            "priv_level": doc["priv_level"],
        });
        if generated {
            shown["password"] = json!(password);
        }
        return print_json(&shown);
    }
    print(&id)?;
    if generated {
        print(&format!("password: {password}"))?;
    }
    Ok(())
}

async fn passwd(op: &Operator, args: PasswdArgs) -> Result<(), CliError> {
    let (account, _) = op.account(&args.account).await?;
    let name = username(&args.username)?;
    let missing = || CliError::NotFound(format!("account {account} has no user {name:?}"));
    let user = op
        .store
        .user_by_username(&account, &name)
        .await?
        .ok_or_else(missing)?;
    let user_id = user["_id"].as_str().unwrap_or_default().to_string();
    let (password, generated) = chosen_password(&args.password)?;

    // The hashes use the username as stored, which is what clients hash too.
    let stored_name = user["username"].as_str().unwrap_or(&name).to_string();
    let (md5, sha1) = credential_hashes(&stored_name, &password);
    let now = to_gregorian(op.now_unix);
    op.store
        .set_credentials(&account, &user_id, (&md5, &sha1), now)
        .await?
        .ok_or_else(missing)?;

    if generated {
        print(&format!("password: {password}"))?;
    }
    eprintln!("the password of {name} ({user_id}) is changed; earlier tokens no longer work");
    Ok(())
}
