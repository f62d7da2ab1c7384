use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use assay::app::{self, AppError};
use assay::cli::{Cli, Command};
use assay::exit::Exit;

fn main() -> ExitCode {
    // a write past the file size limit (ulimit -f) fails with an error that is reported,
    // and the batch cut off again, instead of the signal ending the process mid-write
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to ignored, before any thread starts
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    // unwrapped lines: a CI log or a grep must see each message whole
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
    }));
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Verify(args) => {
            init_logging(args.common.verbose, args.common.quiet);
            match app::verify::run(args) {
                Ok(code) => code,
                Err(e) => report_error(e),
            }
        }
        Command::Push(args) => {
            init_logging(args.common.verbose, args.common.quiet);
            match app::push::run(args) {
                Ok(code) => code,
                Err(e) => report_error(e),
            }
        }
        Command::History(args) => {
            init_logging(args.common.verbose, args.common.quiet);
            match app::history::run(args) {
                Ok(code) => code,
                Err(e) => report_error(e),
            }
        }
        Command::Report(args) => {
            init_logging(args.common.verbose, args.common.quiet);
            match app::report::run(args) {
                Ok(code) => code,
                Err(e) => report_error(e),
            }
        }
        Command::Channel(args) => {
            init_logging(args.common.verbose, args.common.quiet);
            match app::channel::run(args) {
                Ok(code) => code,
                Err(e) => report_error(e),
            }
        }
        Command::Init(args) => {
            init_logging(args.common.verbose, args.common.quiet);
            match app::init::run(args) {
                Ok(code) => code,
                Err(e) => report_error(e),
            }
        }
        Command::Rows(args) => {
            init_logging(args.common.verbose, args.common.quiet);
            match app::rows::run(args) {
                Ok(code) => code,
                Err(e) => report_error(e),
            }
        }
        Command::Serve(args) => {
            init_logging(args.common.verbose, args.common.quiet);
            match app::serve::run(args) {
                Ok(code) => code,
                Err(e) => report_error(e),
            }
        }
        Command::Run(args) => {
            init_logging(args.common.verbose, args.common.quiet);
            match app::run::run(args) {
                Ok(code) => code,
                Err(e) => report_error(e),
            }
        }
        Command::Contract(args) => {
            init_logging(args.common.verbose, args.common.quiet);
            match app::contract::run(args) {
                Ok(code) => code,
                Err(e) => report_error(e),
            }
        }
        Command::Scan(args) => {
            init_logging(args.common.verbose, args.common.quiet);
            match app::scan::run(args) {
                Ok(code) => code,
                Err(e) => report_error(e),
            }
        }
    };
    ExitCode::from(code.code())
}

fn report_error(e: AppError) -> Exit {
    match e {
        AppError::Input(mut diags) => {
            diags.mask_secrets();
            let shown = format!("{:?}", miette::Report::new(diags));
            eprintln!("{}", assay::secrets::for_terminal(&shown));
            Exit::BadInput
        }
        AppError::Runtime(e) => {
            eprintln!(
                "error: {}",
                assay::secrets::for_terminal(&assay::secrets::mask(&e.to_string()))
            );
            Exit::Runtime
        }
    }
}

/// Logs go to stderr so stdout stays clean for reports (`-o json | jq`).
fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "assay=info",
        _ => "assay=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ASSAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(assay::secrets::MaskedStderr::new)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .without_time()
        .init();
}
