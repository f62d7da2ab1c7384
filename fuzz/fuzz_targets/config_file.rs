//! Any bytes as assay.yml: it is read or refused with positions, the errors render with
//! secrets masked, and nothing panics or grows without bound.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn folder() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a folder").keep())
}

fuzz_target!(|data: &[u8]| {
    let path = folder().join("assay.yml");
    std::fs::write(&path, data).expect("written");
    match assay::config::load(Some(&path), &[], &Default::default()) {
        Ok(_) => {}
        Err(mut diags) => {
            diags.mask_secrets();
            let mut out = String::new();
            let _ = miette::GraphicalReportHandler::new().render_report(&mut out, &diags);
        }
    }
});
