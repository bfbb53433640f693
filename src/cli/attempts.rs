//! `kazoo-security attempts export`: every login attempt of an account in a date range, as
//! JSON lines or CSV, read a page at a time from the month databases and written as read.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use super::{CliError, Operator};
use crate::domain::ids::AccountId;
use crate::domain::merge::public_part;
use crate::domain::time::{RangeEnd, iso8601, parse_date, to_gregorian, to_unix};
use crate::store::attempts::AttemptQuery;

/// Attempts read from CouchDB per page.
const PAGE: usize = 500;

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 11] = [
    "id",
    "time",
    "timestamp",
    "status",
    "auth_module",
    "auth_type",
    "client_ip",
    "owner_id",
    "crossbar_request_id",
    "user_agent",
    "message",
];

/// Work with the login-attempt audit trail.
#[derive(Subcommand)]
pub enum AttemptsCommand {
    /// Export an account's login attempts in a date range, oldest first. Month databases
    /// are read by name, a page at a time; a progress bar shows on long exports when
    /// standard error is a terminal.
    Export(ExportArgs),
}

/// The options of `attempts export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The account: its id, realm or name.
    pub account: String,
    /// First day (YYYY-MM-DD, UTC, from 00:00:00), an RFC 3339 time, or `now`.
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// Last day (YYYY-MM-DD, UTC, to 23:59:59), an RFC 3339 time, or `now`.
    #[arg(long, value_name = "DATE", default_value = "now")]
    pub to: String,
    /// `jsonl`: each attempt's public fields and id, one JSON object a line; `csv`: one row
    /// an attempt, with a header.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
    /// Write to FILE (complete, or not at all) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "output")]
    pub force: bool,
}

/// An export format.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

/// Runs one `attempts` command.
pub async fn run(op: &Operator, command: AttemptsCommand) -> Result<(), CliError> {
    let AttemptsCommand::Export(args) = command;
    let bound = |text: &str, end| {
        parse_date(text, end, op.now_unix).ok_or_else(|| {
            CliError::Invalid(format!(
                "{text:?} is not a date (YYYY-MM-DD), an RFC 3339 time, or now"
            ))
        })
    };
    let from = bound(&args.from, RangeEnd::Start)?;
    let to = bound(&args.to, RangeEnd::End)?;
    if to < from {
        return Err(CliError::Invalid(format!(
            "--to {} is before --from {}",
            args.to, args.from
        )));
    }
    let (account, _) = op.account(&args.account).await?;

    let count = match &args.output {
        None => {
            let out = BufWriter::new(std::io::stdout().lock());
            export(op, &account, (from, to), args.format, out).await?
        }
        Some(path) => export_to_file(op, &account, (from, to), &args, path).await?,
    };
    eprintln!("login attempts exported: {count}");
    Ok(())
}

/// Writes the export beside `path` and moves it there once complete.
async fn export_to_file(
    op: &Operator,
    account: &AccountId,
    range: (i64, i64),
    args: &ExportArgs,
    path: &Path,
) -> Result<u64, CliError> {
    if path.exists() && !args.force {
        return Err(CliError::Exists(format!(
            "{} exists; give --force to replace it",
            path.display()
        )));
    }
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = std::fs::File::create(&partial)?;
    let written = export(op, account, range, args.format, BufWriter::new(file)).await;
    match written {
        Ok(count) => {
            std::fs::rename(&partial, path)?;
            Ok(count)
        }
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            Err(error)
        }
    }
}

/// Streams the attempts of `range` (Unix seconds, inclusive) to `out`; answers how many.
async fn export<W: Write>(
    op: &Operator,
    account: &AccountId,
    (from, to): (i64, i64),
    format: Format,
    out: W,
) -> Result<u64, CliError> {
    let mut sink = Sink::new(format, out)?;
    let progress = Progress::new(to_gregorian(from), to_gregorian(to));
    let mut query = AttemptQuery {
        account,
        from: to_gregorian(from),
        to: to_gregorian(to),
        ascending: true,
        page_size: Some(PAGE),
        start: None,
        filters: Vec::new(),
        auth_type: None,
    };
    let mut count = 0;
    loop {
        let page = op.store.list_attempts(&query).await?;
        let docs = op.store.attempts_in_full(account, &page.rows).await?;
        for doc in &docs {
            sink.write(doc)?;
        }
        count += docs.len() as u64;
        if let Some(last) = docs.last().and_then(|d| d["timestamp"].as_i64()) {
            progress.advance(last, count, page.next.is_some());
        }
        match page.next {
            Some(next) => query.start = Some(next),
            None => break,
        }
    }
    sink.finish()?;
    progress.finish();
    Ok(count)
}

/// Where exported attempts go, in their format.
enum Sink<W: Write> {
    Jsonl(W),
    Csv(Box<csv::Writer<W>>),
}

impl<W: Write> Sink<W> {
    fn new(format: Format, out: W) -> Result<Self, CliError> {
        Ok(match format {
            Format::Jsonl => Sink::Jsonl(out),
            Format::Csv => {
                let mut writer = csv::Writer::from_writer(out);
                writer.write_record(CSV_COLUMNS).map_err(csv_error)?;
                Sink::Csv(Box::new(writer))
            }
        })
    }

    fn write(&mut self, doc: &Value) -> Result<(), CliError> {
        match self {
            Sink::Jsonl(out) => {
                let mut line = serde_json::Map::new();
                line.insert("id".into(), doc["_id"].clone());
                line.extend(public_part(doc));
                writeln!(out, "{}", Value::Object(line))?;
            }
            Sink::Csv(writer) => writer.write_record(csv_row(doc)).map_err(csv_error)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<(), CliError> {
        match self {
            Sink::Jsonl(mut out) => out.flush()?,
            Sink::Csv(mut writer) => writer.flush()?,
        }
        Ok(())
    }
}

fn csv_error(error: csv::Error) -> CliError {
    CliError::Io(std::io::Error::other(error))
}

/// The CSV row of an attempt document, in the order of [`CSV_COLUMNS`].
pub fn csv_row(doc: &Value) -> Vec<String> {
    let text = |value: &Value| match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let timestamp = doc["timestamp"].as_i64();
    vec![
        text(&doc["_id"]),
        timestamp.map(|t| iso8601(to_unix(t))).unwrap_or_default(),
        text(&doc["timestamp"]),
        text(&doc["status"]),
        text(&doc["auth_module"]),
        text(&doc["auth_type"]),
        text(&doc["client_ip"]),
        text(&doc["metadata"]["owner_id"]),
        text(&doc["crossbar_request_id"]),
        text(&doc["client_headers"]["user-agent"]),
        text(&doc["message"]),
    ]
}

/// How far through the range an export is, by the time of the last attempt written.
struct Progress {
    bar: ProgressBar,
    from: i64,
    terminal: bool,
}

impl Progress {
    fn new(from: i64, to: i64) -> Self {
        let bar = ProgressBar::hidden();
        bar.set_length(u64::try_from(to - from).unwrap_or(0).max(1));
        let style = ProgressStyle::with_template("{bar:40} {percent:>3}% {msg}")
            .expect("the template is valid");
        bar.set_style(style);
        Progress {
            bar,
            from,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Moves to `timestamp`; the bar appears once an export spans more than one page.
    fn advance(&self, timestamp: i64, count: u64, more: bool) {
        if more && self.terminal && self.bar.is_hidden() {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.bar
            .set_position(u64::try_from(timestamp - self.from).unwrap_or(0));
        self.bar.set_message(format!("{count} attempts"));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_rows_follow_the_columns() {
        let doc = json!({"_id": "202403-1bb1d71421cb86f5fb4140c0f771ce85",
            "auth_type": "jwt_auth_token", "status": "success", "auth_module": "cb_user_auth",
            "message": "authentication resulted in token creation",
            "client_headers": {"user-agent": "fixture-client/1.0"}, "client_ip": "192.0.2.44",
            "crossbar_request_id": "fb85e92ebc95fabeaf28a9008289e8f0",
            "timestamp": 63877213205i64,
            "metadata": {"owner_id": "65a3d47bd2ec575e4f0adc8564121fc7"}});
        let row = csv_row(&doc);
        assert_eq!(row.len(), CSV_COLUMNS.len());
        let column = |name: &str| {
            let index = CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
            row[index].clone()
        };
        assert_eq!(column("time"), "2024-03-09T14:20:05Z");
        assert_eq!(column("timestamp"), "63877213205");
        assert_eq!(column("owner_id"), "65a3d47bd2ec575e4f0adc8564121fc7");
        assert_eq!(column("user_agent"), "fixture-client/1.0");
        assert_eq!(csv_row(&json!({}))[7], "");
    }
}
