//! `assay verify`: a validated run -> results -> reports (and a push) -> exit code.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::{run_config, runtime, write_file, AppError};
use crate::cli::VerifyArgs;
use crate::exec::RunControl;
use crate::exit::Exit;
use crate::plan;
use crate::report::{self, Format};
use crate::verify;

/// `assay verify`: run the checks, write the reports, push when asked; the exit code.
pub fn run(args: &VerifyArgs) -> Result<Exit, AppError> {
    let run = run_config::prepare(args)?;
    if run.plan_only {
        print!("{}", crate::secrets::mask(&plan::plan_text(&run.resolved)));
        return Ok(Exit::Ok);
    }
    let runtime = runtime()?;
    let control = RunControl::new();
    let store = run.options.capture.is_some().then_some(&run.store);
    // secrets are masked in each dataset's results as it ends, before anything stores,
    // shows or sends them
    let results = runtime.block_on(verify::run(run.resolved, &run.options, control, store));
    let mut stdout = std::io::stdout().lock();
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for out in &run.outputs {
        match &out.path {
            None => {
                let text =
                    report::render(out.format, &results, color && out.format == Format::Table);
                let _ = stdout.write_all(text.as_bytes());
            }
            Some(path) => {
                let text = report::render(out.format, &results, false);
                write_file(path, &text).map_err(AppError::Runtime)?;
            }
        }
    }
    let _ = stdout.flush();
    let code = results.exit_code(run.fail_on);
    let Some(push) = &run.push else {
        runtime.shutdown_timeout(Duration::from_secs(2));
        return Ok(code);
    };
    let delivered = runtime.block_on(super::push::push_results(&results, push, args.quiet));
    runtime.shutdown_timeout(Duration::from_secs(2));
    // exit codes: 2, 3, 1, 4 in that order of precedence
    Ok(code.with_push(delivered))
}
