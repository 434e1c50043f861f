//! The command line: `warden [serve]`, `warden migrate`, `warden user create`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use warden_actors::clock::{Clock, SystemClock};
use warden_actors::role::Role;

use crate::auth::{check_password, normalize_email, password};
use crate::config::{Config, LoadOptions};
use crate::storage::{is_unique_violation, Db};

#[derive(Debug, Parser)]
#[command(name = "warden", version, about = "Self-hosted infrastructure supervision server")]
pub struct Cli {
    /// Configuration file (TOML) layered over the built-in defaults [env: WARDEN_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:9000 [env: WARDEN_LISTEN]
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Directory for the SQLite database and generated secrets [env: WARDEN_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default)
    Serve,
    /// Apply database migrations and exit
    Migrate,
    /// Load a running server and print throughput, latency and memory figures
    Bench(crate::bench::BenchArgs),
    /// Manage users without going through HTTP
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user, e.g. the first admin of a closed installation
    Create(UserCreateArgs),
}

#[derive(Debug, Args)]
pub struct UserCreateArgs {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: String,
    /// At least 8 characters
    #[arg(long)]
    pub password: String,
    /// admin, operator or viewer
    #[arg(long, default_value = "viewer")]
    pub role: String,
}

/// Parses the command line, runs the command, and maps failure to a non-zero exit.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let opts = LoadOptions {
        file: cli.config.clone(),
        listen: cli.listen.clone(),
        data_dir: cli.data_dir.clone(),
        ..LoadOptions::from_process_env()
    };
    let config = match Config::load(&opts) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("warden: {msg}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&config.log);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(config).await,
        Command::User(UserCommand::Create(args)) => create_user(config, args).await,
        Command::Bench(args) => crate::bench::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("warden: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = crate::App::build(config).await?;
    app.run_until_stopped(crate::app::shutdown_signal()).await
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let db = Db::connect(&config).await?;
    db.migrate().await?;
    println!("migrations applied ({})", db.backend());
    db.close().await;
    Ok(())
}

async fn create_user(config: Config, args: UserCreateArgs) -> anyhow::Result<()> {
    let email = normalize_email(&args.email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
    let name = args.name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.chars().count() <= 100,
        "--name: must have 1 to 100 characters"
    );
    check_password(&args.password).map_err(|m| anyhow::anyhow!("--password: {m}"))?;
    let role: Role = args.role.parse().map_err(|m| anyhow::anyhow!("--role: {m}"))?;
    let db = Db::connect(&config).await?;
    db.migrate().await?;
    let hash = password::hash(args.password).await?;
    let user = match db.create_user(&email, name, &hash, Some(role), SystemClock.now()).await {
        Ok(u) => u,
        Err(e) if is_unique_violation(&e) => {
            anyhow::bail!("a user with email {email} already exists")
        }
        Err(e) => return Err(e.into()),
    };
    println!("created user {} <{}> with role {}", user.id, user.email, user.role);
    db.close().await;
    Ok(())
}
