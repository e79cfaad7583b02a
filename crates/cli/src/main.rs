//! `orbflow`: the command line.
//!
//! Data goes to stdout, diagnostics to stderr. Exit codes: 0 success,
//! 1 failure (a run that FAILED or was CANCELLED, an I/O error), 2 invalid
//! input (a workflow, an expression, a flag, a log or `OTEL_*` setting).
//!
//! Modules: `cmd` (one file per command), `health` (the daemons' health
//! listener), `logging` (the log subscriber every command installs),
//! `output` (tables and JSON on stdout).

mod cmd;
mod health;
mod logging;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// orbflow: workflow orchestration with durable steps.
#[derive(Debug, Parser)]
#[command(name = "orbflow", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a workflow to the end on the embedded default (exit 0 COMPLETED,
    /// 1 FAILED or CANCELLED, 2 invalid workflow or input).
    Run(cmd::run::RunArgs),
    /// Engine and worker in one process on SQLite; resumes unfinished runs.
    Dev(cmd::dev::DevArgs),
    /// A fleet worker: claims step jobs from Redis, records in the database.
    Worker(cmd::worker::WorkerArgs),
    /// Fire cron schedules (one leader across replicas) and reconcile.
    Scheduler(cmd::scheduler::SchedulerArgs),
    /// The HTTP API of the fleet (REST + OpenAPI, webhooks, events).
    Api(cmd::api::ApiArgs),
    /// Issue API tokens (straight in the database).
    Token(cmd::token::TokenArgs),
    /// Workspace secrets through the API: set (from stdin or a file), list,
    /// delete; rotate (re-seal under a new key, in the database).
    Secrets(cmd::secrets::SecretsArgs),
    /// Workspace connections (SMTP, Slack) through the API: set, list, get,
    /// delete.
    Connections(cmd::connections::ConnectionsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Workflows through the API: push a draft, publish, list.
    Workflows(cmd::client::WorkflowsArgs),
    /// Runs through the API: start, get, logs, cancel, retry.
    Runs(cmd::client::RunsArgs),
    /// Apply the database migrations.
    Migrate(cmd::migrate::MigrateArgs),
    /// Validate workflow files (exit 0 valid, 2 invalid).
    Validate(cmd::validate::ValidateArgs),
    /// Print a workflow in canonical YAML or JSON.
    Fmt(cmd::fmt::FmtArgs),
    /// Print the DSL's JSON Schema.
    Schema,
    /// List the action catalog.
    Actions(cmd::actions::ActionsArgs),
    /// Draw a workflow's step graph (Mermaid or Graphviz dot).
    Graph(cmd::graph::GraphArgs),
    /// Cron helpers.
    Cron(cmd::cron::CronArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // the daemons log their work; other commands only what goes wrong
    let daemon = matches!(
        cli.command,
        Command::Dev(_) | Command::Worker(_) | Command::Scheduler(_) | Command::Api(_)
    );
    match logging::Settings::from_env(if daemon { "info" } else { "warn" }) {
        Ok(settings) => settings.install(),
        Err(e) => {
            eprintln!("orbflow: {e}");
            return ExitCode::from(2);
        }
    }
    // spans go out over OTLP when the OTEL_* variables ask for it; the
    // guard flushes them when main returns
    let service = match cli.command {
        Command::Run(_) => Some("orbflow-run"),
        Command::Dev(_) => Some("orbflow-dev"),
        Command::Worker(_) => Some("orbflow-worker"),
        Command::Scheduler(_) => Some("orbflow-scheduler"),
        Command::Api(_) => Some("orbflow-api"),
        _ => None,
    };
    let _telemetry = match service.map(orbflow_telemetry::init).transpose() {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("orbflow: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Run(a) => cmd::run::run(&a),
        Command::Dev(a) => cmd::dev::run(&a),
        Command::Worker(a) => cmd::worker::run(&a),
        Command::Migrate(a) => cmd::migrate::run(&a),
        Command::Api(a) => cmd::api::run(&a),
        Command::Token(a) => cmd::token::run(&a),
        Command::Secrets(a) => cmd::secrets::run(&a),
        Command::Connections(a) => cmd::connections::run(&a),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "orbflow",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Workflows(a) => cmd::client::workflows(&a),
        Command::Runs(a) => cmd::client::runs(&a),
        Command::Scheduler(a) => cmd::scheduler::run(&a),
        Command::Validate(a) => cmd::validate::run(&a),
        Command::Fmt(a) => cmd::fmt::run(&a),
        Command::Schema => cmd::schema::run(),
        Command::Actions(a) => cmd::actions::run(&a),
        Command::Graph(a) => cmd::graph::run(&a),
        Command::Cron(a) => cmd::cron::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("orbflow: {e:#}");
            ExitCode::from(1)
        }
    }
}
