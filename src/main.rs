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
        Command::Verify(args) => command(&args.common, || app::verify::run(args)),
        Command::Push(args) => command(&args.common, || app::push::run(args)),
        Command::History(args) => command(&args.common, || app::history::run(args)),
        Command::Report(args) => command(&args.common, || app::report::run(args)),
        Command::Channel(args) => command(&args.common, || app::channel::run(args)),
        Command::Init(args) => command(&args.common, || app::init::run(args)),
        Command::Rows(args) => command(&args.common, || app::rows::run(args)),
        Command::Serve(args) => command(&args.common, || app::serve::run(args)),
        Command::Agent(args) => command(&args.common, || app::agent::run(args)),
        Command::Run(args) => command(&args.common, || app::run::run(args)),
        Command::Contract(args) => command(&args.common, || app::contract::run(args)),
        Command::Scan(args) => command(&args.common, || app::scan::run(args)),
    };
    ExitCode::from(code.code())
}

/// A command with its logging set up; its error reported as the exit codes say.
fn command(common: &assay::cli::Common, run: impl FnOnce() -> Result<Exit, AppError>) -> Exit {
    init_logging(common.verbose, common.quiet);
    run().unwrap_or_else(report_error)
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
