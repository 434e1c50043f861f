//! The `warden` binary: parses the command line and hands over to [`warden::cli`].

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    warden::cli::run().await
}
