//! `assay verify`: a validated run -> results -> reports (and a push) -> exit code.

use std::time::Duration;

use super::{run_config, runtime, AppError};
use crate::cli::VerifyArgs;
use crate::exec::RunControl;
use crate::exit::Exit;
use crate::verify;

/// `assay verify`: run the checks, write the reports, push when asked; the exit code.
pub fn run(args: &VerifyArgs) -> Result<Exit, AppError> {
    let run = run_config::prepare(args)?;
    if run.plan_only {
        print!(
            "{}",
            crate::secrets::for_terminal(&crate::secrets::mask(&verify::plan_text(&run.resolved)))
        );
        return Ok(Exit::Ok);
    }
    let runtime = runtime()?;
    let control = RunControl::new();
    let store = run.options.capture.is_some().then_some(&run.store);
    // secrets are masked in each dataset's results as it ends, before anything stores,
    // shows or sends them
    let mut results = runtime.block_on(verify::run(run.resolved, &run.options, control, store));
    if let Some(baseline) = &run.baseline {
        crate::baseline::compare(&mut results, baseline);
    }
    super::write_reports(&run.outputs, &results, run.history.as_ref())?;
    let code = results.exit_code(run.fail_on);
    let Some(push) = &run.push else {
        runtime.shutdown_timeout(Duration::from_secs(2));
        return Ok(code);
    };
    let delivered = runtime.block_on(super::push::push_results(&results, push, args.common.quiet));
    runtime.shutdown_timeout(Duration::from_secs(2));
    // exit codes: 2, 3, 1, 4 in that order of precedence
    Ok(code.with_push(delivered))
}
