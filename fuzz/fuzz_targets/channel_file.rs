//! Any bytes as a channel file beside a fixed assay.yml: it is read or refused with
//! positions; when read, every path it names is inside the project, and nothing panics.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn project() -> &'static (PathBuf, assay::config::Config) {
    static PROJECT: OnceLock<(PathBuf, assay::config::Config)> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a folder").keep();
        std::fs::create_dir_all(dir.join("channels")).expect("a folder");
        std::fs::write(
            dir.join("assay.yml"),
            "data_sources:\n  - name: db\n    type: duckdb\n    connection: {database: db.duckdb}\nenvironments:\n  default: {channels: [c]}\n",
        )
        .expect("written");
        let config = assay::config::load(Some(&dir.join("assay.yml")), &[], &Default::default())
            .expect("the fixed config reads");
        (dir, config)
    })
}

fuzz_target!(|data: &[u8]| {
    let (dir, config) = project();
    let path = dir.join("channels/c.yml");
    std::fs::write(&path, data).expect("written");
    match assay::channel::spec::load(&path, config, &Default::default()) {
        Ok(spec) => {
            let root = std::path::absolute(dir).expect("absolute");
            if let assay::channel::spec::Store::File { path, .. } = &spec.store {
                // `..` taken out as text: the path must still be inside the project
                let mut resolved = PathBuf::new();
                for c in std::path::absolute(path).expect("absolute").components() {
                    match c {
                        std::path::Component::ParentDir => {
                            resolved.pop();
                        }
                        std::path::Component::CurDir => {}
                        other => resolved.push(other),
                    }
                }
                assert!(
                    resolved.starts_with(&root),
                    "a channel file's path left the project: {}",
                    path.display()
                );
            }
        }
        Err(diags) => {
            let mut out = String::new();
            let _ = miette::GraphicalReportHandler::new().render_report(&mut out, &diags);
        }
    }
});
