//! The operator commands, run as the built binary against the real CouchDB-compatible
//! server; what they write is then used through a running service, which proves it is what
//! the service (and so Kazoo) expects.

mod common;

use common::{Acct, TestApp, User};
use kazoo_security::domain::ids::new_raw_id;
use serde_json::{Value, json};

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    fn first_line(&self) -> String {
        self.stdout.lines().next().unwrap_or_default().to_string()
    }
}

/// Runs `kazoo-security ARGS` with `stdin`, on the tests' CouchDB.
async fn cli(args: &[&str], stdin: Option<&str>) -> Run {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let stdin = stdin.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kazoo-security"))
            .args(&args)
            .env("COUCHDB_URL", std::env::var("COUCHDB_URL").unwrap())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        let output = child.wait_with_output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

fn unique(prefix: &str) -> String {
    format!("{prefix} {}", &new_raw_id()[..12])
}

/// Creates an account with the CLI; answers it as the harness describes accounts.
async fn create_account(app: &TestApp, parent: &Acct, reseller: bool) -> Acct {
    let name = unique("Cli Account");
    let mut args = vec![
        "account", "create", "--name", &name, "--parent", &parent.id, "--json",
    ];
    if reseller {
        args.push("--reseller");
    }
    let created = cli(&args, None).await.ok().json();
    let id = created["id"].as_str().unwrap().to_string();
    let doc = app.couch().get("accounts", &id).await.unwrap().unwrap();
    Acct {
        name,
        realm: doc["realm"].as_str().unwrap().to_string(),
        api_key: doc["pvt_api_key"].as_str().unwrap().to_string(),
        tree: [parent.tree.clone(), vec![parent.id.clone()]].concat(),
        id,
    }
}

/// Creates a user with the CLI, with `password` given on standard input.
async fn create_user(acct: &Acct, admin: bool, password: &str) -> User {
    let username = format!("ops.{}", &new_raw_id()[..10]);
    let mut args = vec!["user", "create", &acct.id, "--username", &username];
    args.push("--password-stdin");
    if admin {
        args.push("--admin");
    }
    let run = cli(&args, Some(&format!("{password}\n"))).await.ok();
    User {
        id: run.first_line(),
        username,
        password: password.to_string(),
        account_id: acct.id.clone(),
    }
}

fn without_rev(mut doc: Value) -> Value {
    doc.as_object_mut().unwrap().remove("_rev");
    doc
}

#[tokio::test]
async fn account_create_writes_what_kazoo_writes_for_a_reseller_and_its_child() {
    let app = TestApp::spawn().await;
    let root = app.account(None, true).await;
    let reseller = create_account(&app, &root, true).await;
    let child = create_account(&app, &reseller, false).await;

    for (acct, is_reseller, reseller_id) in
        [(&reseller, true, &root.id), (&child, false, &reseller.id)]
    {
        let own = app
            .couch()
            .get(&acct.db(), &acct.id)
            .await
            .unwrap()
            .unwrap();
        let listed = app
            .couch()
            .get("accounts", &acct.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(without_rev(own.clone()), without_rev(listed));
        assert_eq!(own["pvt_type"], "account");
        assert_eq!(own["pvt_vsn"], "1");
        assert_eq!(own["pvt_account_id"], acct.id.as_str());
        assert_eq!(own["pvt_account_db"], acct.encoded_db());
        assert_eq!(own["pvt_tree"], json!(acct.tree));
        assert_eq!(own["pvt_enabled"], true);
        assert_eq!(own["enabled"], true);
        assert_eq!(own["pvt_reseller_id"], reseller_id.as_str());
        assert_eq!(own["pvt_api_key"].as_str().unwrap().len(), 64);
        assert!(own["realm"].as_str().unwrap().ends_with(".sip.2600hz.com"));

        let services = app
            .couch()
            .get("services", &acct.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(services["pvt_type"], "service");
        assert_eq!(services["pvt_reseller"], is_reseller);
        assert_eq!(services["pvt_reseller_id"], reseller_id.as_str());
        assert_eq!(services["pvt_tree"], json!(acct.tree));
        for design in ["_design/users", "_design/auth"] {
            let doc = app.couch().get(&acct.db(), design).await.unwrap();
            assert!(doc.is_some(), "{design} in {}", acct.db());
        }
    }
    let child_doc = app
        .couch()
        .get(&child.db(), &child.id)
        .await
        .unwrap()
        .unwrap();
    assert!(child_doc.get("pvt_reseller").is_none());

    // The service sees the reseller as one, and the child as its customer.
    for (acct, is_reseller, reseller_id) in
        [(&reseller, true, &root.id), (&child, false, &reseller.id)]
    {
        let user = app.user(acct, true).await;
        let login = app.user_auth(acct, &user).await;
        assert_eq!(login.status, 201, "{}", login.body);
        assert_eq!(login.body["data"]["is_reseller"], is_reseller);
        assert_eq!(login.body["data"]["reseller_id"], reseller_id.as_str());
    }
}

#[tokio::test]
async fn list_and_show_describe_the_created_accounts() {
    let app = TestApp::spawn().await;
    let root = app.account(None, true).await;
    let acct = create_account(&app, &root, true).await;

    let listed = cli(&["account", "list"], None).await.ok();
    let line = listed
        .stdout
        .lines()
        .find(|l| l.starts_with(&acct.id))
        .expect("the new account is listed");
    assert!(line.contains(&root.id) && line.contains("yes") && line.contains(&acct.realm));
    assert!(line.ends_with(&acct.name), "{line}");

    let rows = cli(&["account", "list", "--json"], None).await.ok().json();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == acct.id.as_str())
        .expect("the new account is in the JSON listing")
        .clone();
    assert_eq!(
        row,
        json!({"id": acct.id, "name": acct.name, "realm": acct.realm, "parent": root.id,
               "is_reseller": true})
    );

    for name in [&acct.id, &acct.realm, &acct.name] {
        let shown = cli(&["account", "show", name], None).await.ok().json();
        assert_eq!(
            shown,
            json!({"id": acct.id, "name": acct.name, "realm": acct.realm, "enabled": true})
        );
    }
}

#[tokio::test]
async fn a_user_created_by_the_cli_logs_in_and_administers_its_account() {
    let app = TestApp::spawn().await;
    let root = app.account(None, true).await;
    let acct = create_account(&app, &root, false).await;
    let admin = create_user(&acct, true, "Tide-Pool-42").await;

    let doc = app
        .couch()
        .get(&acct.db(), &admin.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc["pvt_type"], "user");
    assert_eq!(doc["priv_level"], "admin");
    assert_eq!(doc["pvt_md5_auth"], admin.md5());
    assert_eq!(doc["pvt_sha1_auth"], admin.sha1());
    assert_eq!(doc["pvt_account_db"], acct.encoded_db());
    assert_eq!(doc["pvt_signature_secret"].as_str().unwrap().len(), 32);

    let login = app.user_auth(&acct, &admin).await;
    assert_eq!(login.status, 201, "{}", login.body);
    assert_eq!(login.body["data"]["owner_id"], admin.id.as_str());
    let token = login.body["auth_token"].as_str().unwrap();
    let config = app.send("GET", &acct.security(), Some(token), None).await;
    assert_eq!(config.status, 200, "{}", config.body);

    // Without a password, one is generated and shown once; it logs in by realm with SHA-1.
    let username = format!("clerk.{}", &new_raw_id()[..8]);
    let args = ["user", "create", &acct.realm, "--username", &username].map(str::to_string);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = cli(&args, None).await.ok();
    let password = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("the generated password is printed")
        .to_string();
    let clerk = User {
        id: run.first_line(),
        username: username.clone(),
        password,
        account_id: acct.id.clone(),
    };
    let body = json!({"data": {"credentials": clerk.sha1(), "method": "sha",
                               "account_realm": acct.realm}});
    let login = app.send("PUT", "/v2/user_auth", None, Some(body)).await;
    assert_eq!(login.status, 201, "{}", login.body);
    let token = login.body["auth_token"].as_str().unwrap();
    let config = app.send("GET", &acct.security(), Some(token), None).await;
    assert_eq!(config.status, 403, "a plain user may not manage security");

    let again = cli(&args, None).await;
    assert_ne!(again.code, 0);
    assert!(
        again.stderr.contains("already has a user"),
        "{}",
        again.stderr
    );
}

#[tokio::test]
async fn passwd_ends_the_old_password_and_the_tokens_issued_with_it() {
    let app = TestApp::spawn().await;
    let root = app.account(None, true).await;
    let acct = create_account(&app, &root, false).await;
    let old = create_user(&acct, true, "Old-Password-1").await;
    let old_token = app.login(&acct, &old).await;
    let before = app
        .send("GET", &acct.security(), Some(&old_token), None)
        .await;
    assert_eq!(before.status, 200);

    let args = [
        "user",
        "passwd",
        &acct.id,
        &old.username,
        "--password-stdin",
    ];
    cli(&args, Some("New-Password-2\n")).await.ok();

    assert_eq!(app.user_auth(&acct, &old).await.status, 401);
    let new = User {
        password: "New-Password-2".into(),
        ..old.clone()
    };
    let login = app.user_auth(&acct, &new).await;
    assert_eq!(login.status, 201, "{}", login.body);
    let after = app
        .send("GET", &acct.security(), Some(&old_token), None)
        .await;
    assert_eq!(
        after.status, 401,
        "the old token is refused: {}",
        after.body
    );
    let new_token = login.body["auth_token"].as_str().unwrap();
    let fresh = app
        .send("GET", &acct.security(), Some(new_token), None)
        .await;
    assert_eq!(fresh.status, 200);
}

#[tokio::test]
async fn a_rotated_api_key_logs_in_and_the_old_one_no_longer_does() {
    let app = TestApp::spawn().await;
    let root = app.account(None, true).await;
    let acct = create_account(&app, &root, false).await;
    assert_eq!(app.api_auth(&acct).await.status, 201);

    let key = cli(&["api-key", "rotate", &acct.id], None)
        .await
        .ok()
        .first_line();
    assert_eq!(key.len(), 64);
    assert_ne!(key, acct.api_key);
    for db in [acct.db(), "accounts".to_string()] {
        let doc = app.couch().get(&db, &acct.id).await.unwrap().unwrap();
        assert_eq!(doc["pvt_api_key"], key.as_str(), "{db}");
    }

    assert_eq!(app.api_auth(&acct).await.status, 401);
    let rotated = Acct {
        api_key: key,
        ..acct.clone()
    };
    let login = app.api_auth(&rotated).await;
    assert_eq!(login.status, 201, "{}", login.body);
    assert_eq!(login.body["data"]["account_id"], acct.id.as_str());
}

#[tokio::test]
async fn config_show_names_the_source_of_every_value() {
    let app = TestApp::spawn().await;
    let root = app.account(None, true).await;
    let reseller = create_account(&app, &root, true).await;
    let middle = create_account(&app, &reseller, false).await;
    let leaf = create_account(&app, &middle, false).await;
    let expiry = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 5400}}});
    app.store_config(&reseller, expiry).await;
    let logging = json!({"auth_modules": {"cb_user_auth": {"log_failed_attempts": false}}});
    app.store_config(&middle, logging).await;
    let own = json!({"auth_modules": {"cb_api_auth": {"enabled": false}}});
    app.store_config(&leaf, own).await;

    let shown = cli(&["config", "show", &leaf.id, "--json"], None)
        .await
        .ok()
        .json();
    let source = |pointer: &str| shown["sources"][pointer].as_str().unwrap_or("").to_string();
    let reseller_source = format!("reseller {}", reseller.id);
    let middle_source = format!("ancestor {}", middle.id);
    assert_eq!(
        source("/auth_modules/cb_user_auth/token_auth_expiry_s"),
        reseller_source
    );
    assert_eq!(
        source("/auth_modules/cb_user_auth/log_failed_attempts"),
        middle_source
    );
    assert_eq!(source("/auth_modules/cb_api_auth/enabled"), "account");
    assert_eq!(source("/auth_modules/cb_auth/enabled"), "default");
    let layers = shown["layers"].as_array().unwrap();
    assert_eq!(layers[0], "default");
    assert_eq!(layers[1], "system");
    assert_eq!(layers[layers.len() - 1], "account");
    assert!(layers.contains(&json!(reseller_source)) && layers.contains(&json!(middle_source)));

    let account = app
        .state
        .store
        .account(&kazoo_security::domain::ids::AccountId::parse(&leaf.id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let effective = app.state.store.effective_config(&account).await.unwrap();
    assert_eq!(shown["effective"], effective.effective);

    let text = cli(&["config", "show", &leaf.realm], None)
        .await
        .ok()
        .stdout;
    let line = text
        .lines()
        .find(|l| l.starts_with("auth_modules.cb_user_auth.token_auth_expiry_s "))
        .expect("the expiry has a line");
    assert!(
        line.contains("5400") && line.ends_with(&reseller_source),
        "{line}"
    );
}

#[tokio::test]
async fn attempts_export_writes_every_attempt_as_jsonl_and_csv() {
    let app = TestApp::spawn().await;
    let root = app.account(None, true).await;
    let acct = create_account(&app, &root, false).await;
    let user = create_user(&acct, true, "Export-Me-7").await;
    app.login(&acct, &user).await;
    app.login(&acct, &user).await;
    let wrong = User {
        password: "wrong".into(),
        ..user.clone()
    };
    assert_eq!(app.user_auth(&acct, &wrong).await.status, 401);

    let at = |unix: i64| {
        chrono::DateTime::from_timestamp(unix, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let (from, to) = (at(app.now() - 3600), at(app.now() + 3600));
    let range = ["--from", from.as_str(), "--to", to.as_str()];
    let jsonl = cli(
        &[&["attempts", "export", &acct.id][..], &range].concat(),
        None,
    )
    .await
    .ok();
    let lines: Vec<Value> = jsonl
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}", jsonl.stdout);
    let statuses: Vec<&str> = lines
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "success").count(), 2);
    assert!(statuses.contains(&"failed"));
    for line in &lines {
        assert!(line["id"].as_str().unwrap().contains('-'));
        assert!(
            line.as_object()
                .unwrap()
                .keys()
                .all(|k| !k.starts_with("pvt_"))
        );
    }
    let times: Vec<i64> = lines
        .iter()
        .map(|l| l["timestamp"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    assert!(
        jsonl.stderr.contains("login attempts exported: 3"),
        "{}",
        jsonl.stderr
    );

    let dir = std::env::temp_dir().join(format!("cli-ops-{}", new_raw_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("attempts.csv");
    let path = file.to_str().unwrap();
    let args = [
        &["attempts", "export", &acct.realm, "--format", "csv"][..],
        &range,
    ]
    .concat();
    cli(&[&args[..], &["--output", path]].concat(), None)
        .await
        .ok();
    let csv = std::fs::read_to_string(&file).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("id,time,timestamp,status,auth_module,auth_type,client_ip"));
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(
        rows.iter()
            .any(|r| r.contains(&user.id) && r.contains(",success,"))
    );

    let refused = cli(&[&args[..], &["--output", path]].concat(), None).await;
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    cli(&[&args[..], &["--output", path, "--force"]].concat(), None)
        .await
        .ok();
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn every_command_has_help() {
    let commands: [&[&str]; 15] = [
        &[],
        &["setup"],
        &["seed"],
        &["serve"],
        &["account"],
        &["account", "create"],
        &["account", "list"],
        &["account", "show"],
        &["user"],
        &["user", "create"],
        &["user", "passwd"],
        &["api-key", "rotate"],
        &["config", "show"],
        &["attempts"],
        &["attempts", "export"],
    ];
    for command in commands {
        let run = cli(&[command, &["--help"]].concat(), None).await;
        assert_eq!(run.code, 0, "{command:?}: {}", run.stderr);
        assert!(run.stdout.contains("Usage: kazoo-security"), "{command:?}");
    }
}

#[tokio::test]
async fn bad_input_fails_with_a_message_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let root = app.account(None, true).await;
    let acct = create_account(&app, &root, false).await;
    let nobody = new_raw_id();

    let failures: Vec<(Vec<&str>, &str)> = vec![
        (vec!["account", "show", &nobody], "no account"),
        (
            vec!["account", "show", "No Such Account Anywhere"],
            "no account",
        ),
        (
            vec!["user", "create", &nobody, "--username", "x"],
            "no account",
        ),
        (vec!["user", "passwd", &acct.id, "ghost"], "has no user"),
        (vec!["api-key", "rotate", &nobody], "no account"),
        (vec!["config", "show", &nobody], "no account"),
        (
            vec!["attempts", "export", &nobody, "--from", "2024-01-01"],
            "no account",
        ),
        (
            vec!["attempts", "export", &acct.id, "--from", "last week"],
            "not a date",
        ),
        (
            vec![
                "attempts",
                "export",
                &acct.id,
                "--from",
                "2024-02-01",
                "--to",
                "2024-01-01",
            ],
            "before",
        ),
        (
            vec![
                "account",
                "create",
                "--name",
                "Orphan Co",
                "--parent",
                &nobody,
            ],
            "no account",
        ),
        (
            vec![
                "account",
                "create",
                "--name",
                "Realm Thief",
                "--parent",
                &root.id,
                "--realm",
                &acct.realm,
            ],
            "belongs to",
        ),
        (
            vec![
                "account", "create", "--name", &acct.name, "--parent", &root.id,
            ],
            "same name",
        ),
        (
            vec!["account", "create", "--name", "!!!", "--parent", &root.id],
            "letter or digit",
        ),
        (
            vec!["user", "create", &acct.id, "--username", "two words"],
            "username",
        ),
    ];
    for (args, message) in failures {
        let run = cli(&args, None).await;
        assert_ne!(run.code, 0, "{args:?} succeeded: {}", run.stdout);
        assert!(
            run.stderr.starts_with("error: "),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    }

    let empty = cli(
        &[
            "user",
            "create",
            &acct.id,
            "--username",
            "e",
            "--password-stdin",
        ],
        Some("\n"),
    )
    .await;
    assert_ne!(empty.code, 0);
    assert!(empty.stderr.contains("no password"), "{}", empty.stderr);
    let users: Vec<Value> = app
        .all_docs(&acct.db())
        .await
        .into_iter()
        .filter(|d| d["pvt_type"] == "user")
        .collect();
    assert!(users.is_empty(), "no user was written: {users:?}");

    let unreachable = tokio::task::spawn_blocking(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kazoo-security"))
            .args(["account", "list"])
            .env("COUCHDB_URL", "http://127.0.0.1:9")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(unreachable.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(stderr.starts_with("error: CouchDB:"), "{stderr}");
}

#[tokio::test]
async fn a_long_export_pages_across_months_and_writes_every_attempt_once() {
    let app = TestApp::spawn().await;
    let root = app.account(None, true).await;
    let acct = create_account(&app, &root, false).await;
    // 2024-02-29T23:00:00Z: 700 attempts in February's last hour, 600 in March's first,
    // several to a second so that pages end inside one second.
    let start = 1_709_247_600;
    let mut expected = Vec::new();
    for (month, first, count) in [("202402", start, 700), ("202403", start + 3600, 600)] {
        let db = format!("{}-{month}", acct.db());
        app.couch().create_db(&db).await.unwrap();
        let docs: Vec<Value> = (0..count)
            .map(|i| {
                let id = format!("{month}-{}", new_raw_id());
                expected.push(id.clone());
                let at = first + i / 3 + common::GREGORIAN_OFFSET;
                json!({"_id": id, "pvt_type": "login_attempt", "pvt_created": at,
                       "pvt_modified": at, "timestamp": at, "status": "failed",
                       "auth_type": "credentials", "auth_module": "cb_user_auth",
                       "message": "bulk", "client_ip": "192.0.2.7",
                       "pvt_account_id": acct.id})
            })
            .collect();
        let url = format!(
            "{}/{}/_bulk_docs",
            std::env::var("COUCHDB_URL").unwrap().trim_end_matches('/'),
            kazoo_security::store::couch::encode(&db)
        );
        let answer = app.http.post(url).json(&json!({"docs": docs})).send().await;
        assert!(answer.unwrap().status().is_success());
    }

    let args = [
        "attempts",
        "export",
        &acct.id,
        "--from",
        "2024-02-29",
        "--to",
        "2024-03-01",
    ];
    let run = cli(&args, None).await.ok();
    let mut ids: Vec<String> = run
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .into()
        })
        .collect();
    assert_eq!(ids.len(), 1300);
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
}
