//! `tokendesk`: every TokenDesk operation as a scriptable command. This binary is an adapter:
//! it parses arguments, calls the core's facade (`Desk`), and prints tables or `--json`.

mod args;
mod browser;
mod commands;
mod drive;
mod emulator;
mod exit;
mod export;
mod health;
mod http;
mod io_errors;
mod keys;
mod output;
mod output_server;
mod remote;
mod server;
mod signin;
mod stdio;

use std::process::ExitCode;

use clap::Parser as _;
use tokendesk_core::desk::DeskError;

use crate::args::Cli;
use crate::output::Out;
use crate::stdio::errln;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tokendesk_core::logging::init();
    let out = Out::new(cli.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            out.error(
                "runtime",
                &format!(
                    "cannot start the async runtime: {err}. The system may be out of threads or \
                     memory: close some programs and run the command again"
                ),
                None,
            );
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli, &out)) {
        // The output could not be written (other than to a reader that left): the command
        // did its work, but whoever ran it did not get the answer.
        Ok(status) => match stdio::stdout_failure() {
            Some(why) if status == 0 => {
                errln!("error: {why}");
                ExitCode::FAILURE
            }
            _ => ExitCode::from(status),
        },
        Err(err) => match err.downcast_ref::<DeskError>() {
            Some(desk) => {
                out.error(
                    desk.code(),
                    &desk.to_string(),
                    desk.explanation().as_deref(),
                );
                ExitCode::from(exit::of(desk))
            }
            None => {
                out.error("error", &format!("{err:#}"), None);
                ExitCode::FAILURE
            }
        },
    }
}
