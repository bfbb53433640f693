//! The `kazoo-security` command: parse the command line, start tracing, run.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kazoo_security::cli::{self, CliError, Operator, OperatorCommand};
use kazoo_security::settings::Settings;
use kazoo_security::state::{AppState, Clock};
use tracing_subscriber::EnvFilter;

/// A replacement for the security module of Kazoo's Crossbar API.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the system databases, design documents, secrets and signing key that are missing.
    Setup,
    /// Load a fixture directory (such as fixtures/demo) into CouchDB, skipping existing documents.
    Seed {
        /// The fixture directory.
        dir: PathBuf,
    },
    /// Serve the HTTP API on LISTEN_ADDR until SIGINT or SIGTERM.
    Serve,
    #[command(flatten)]
    Operator(OperatorCommand),
}

/// A failure to start is one `error:` line and exit status 1, whatever `RUST_BACKTRACE` says.
fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    init_tracing(settings.log_json)?;
    if let Command::Operator(command) = cli.command {
        return run_operator_command(&settings, command).await;
    }
    let state = AppState::new(settings.clone(), Clock::system())?;

    match cli.command {
        Command::Setup => {
            let report = cli::setup::run(&state.store, state.clock.now())
                .await
                .context("setup failed")?;
            println!("{report}");
        }
        Command::Seed { dir } => {
            let report = cli::seed::run(&state.store, &dir)
                .await
                .with_context(|| format!("seeding from {} failed", dir.display()))?;
            println!("{report}");
        }
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(settings.listen_addr)
                .await
                .with_context(|| {
                    format!("LISTEN_ADDR: cannot listen on {}", settings.listen_addr)
                })?;
            tracing::info!(addr = %settings.listen_addr, "serving");
            kazoo_security::http::serve(listener, state, shutdown_signal()).await?;
            tracing::info!("stopped");
        }
        Command::Operator(_) => unreachable!("operator commands ran above"),
    }
    Ok(())
}

/// Runs an operator command. A failure is one line on stderr and exit status 1; a closed
/// standard output (`| head`) ends the command quietly.
async fn run_operator_command(settings: &Settings, command: OperatorCommand) -> anyhow::Result<()> {
    let op = Operator::new(settings, chrono::Utc::now().timestamp());
    let result = match op {
        Ok(op) => command.run(&op).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => Ok(()),
        Err(CliError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
}

fn init_tracing(json: bool) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new("info"))
        .context("RUST_LOG: not a valid filter")?;
    if let Ok(text) = std::env::var("RUST_LOG") {
        EnvFilter::try_new(&text)
            .with_context(|| format!("RUST_LOG: not a valid filter: {text:?}"))?;
    }
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler can be installed");
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}
