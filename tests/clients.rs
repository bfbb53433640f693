//! Existing clients, unchanged, against the service: kazoo-sdk (a published Python Crossbar
//! client, pinned in tests/clients/requirements.txt) and plain curl. Each runs as a script
//! under tests/clients/ against a service of its own, with an account made here; the script
//! exits non-zero on the first check that fails, and its output becomes the failure message.
//!
//! The Python environment is made by scripts/clients-venv.sh, which `make test` runs once
//! before the suite and whose python it exports as `KAZOO_CLIENTS_PYTHON`. Without it the
//! test fails, saying how to make it, rather than passing without having run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Acct, TestApp, User};

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// The python of the client environment.
fn clients_python() -> PathBuf {
    let python = match std::env::var_os("KAZOO_CLIENTS_PYTHON").filter(|p| !p.is_empty()) {
        Some(given) => PathBuf::from(given),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".data/clients-venv/bin/python"),
    };
    assert!(
        python.exists(),
        "the client tests need the Python environment of tests/clients/requirements.txt, \
         and {} does not exist: run scripts/clients-venv.sh (`make test` does) or point \
         KAZOO_CLIENTS_PYTHON at its python",
        python.display()
    );
    python
}

/// Runs `command` against `app` with the account's and user's details in its environment;
/// answers its standard output, failing the test on a non-zero exit.
async fn run_client(mut command: Command, app: &TestApp, acct: &Acct, user: &User) -> String {
    command
        .current_dir(scripts())
        .env("KAZOO_URL", &app.url)
        .env("KAZOO_ACCOUNT_ID", &acct.id)
        .env("KAZOO_ACCOUNT_NAME", &acct.name)
        .env("KAZOO_USERNAME", &user.username)
        .env("KAZOO_PASSWORD", &user.password)
        .env("KAZOO_API_KEY", &acct.api_key)
        // The service is on loopback: no proxy of the environment may stand in between.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy");
    // Named without its environment, which holds the password and the API key.
    let shown = format!("{:?} {:?}", command.get_program(), command.get_args());
    // The service runs on this test's runtime: wait for the client off its threads.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{shown} could not start: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{shown} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_sdk_logs_in_both_ways_and_uses_the_security_routes() {
    let python = clients_python();
    let app = TestApp::spawn().await;
    let acct = app.account(None, false).await;
    let user = app.user(&acct, true).await;

    let mut command = Command::new(python);
    command.arg("kazoo_sdk_client.py");
    let stdout = run_client(command, &app, &acct, &user).await;
    assert!(
        stdout.contains("kazoo-sdk 0.2.4: ") && stdout.contains("checks passed"),
        "{stdout}"
    );

    // What the client did is in CouchDB, as it believed.
    let doc = app
        .config_doc(&acct)
        .await
        .expect("kazoo-sdk stored a config");
    assert_eq!(
        doc["auth_modules"]["cb_user_auth"]["token_auth_expiry_s"],
        1800
    );
    assert_eq!(
        doc["auth_modules"]["cb_api_auth"]["log_successful_attempts"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_curl_logs_in_reads_patches_and_lists_attempts() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, false).await;
    let user = app.user(&acct, true).await;

    let mut command = Command::new("bash");
    command.arg("curl_client.sh");
    let stdout = run_client(command, &app, &acct, &user).await;
    assert!(stdout.contains("checks passed"), "{stdout}");

    let doc = app.config_doc(&acct).await.expect("curl stored a config");
    assert_eq!(doc["auth_modules"]["cb_ip_auth"]["enabled"], false);
}
