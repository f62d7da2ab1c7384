//! Any bytes as a contract: the reader returns a contract or errors with positions, and
//! the errors render; nothing panics, nothing grows without bound.
#![no_main]
#![allow(dead_code, unused_imports)]

include!("modules.rs");

use std::collections::HashMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let source = yaml::Source::new(Path::new("fuzz.yml"), text);
    let mut set = HashMap::new();
    set.insert("S".to_string(), "x' OR '1'='1".to_string());
    match contract::parse(source, &set, "2025-01-01T00:00:00Z") {
        Ok(c) => {
            // every piece of SQL it holds, filled in and validated for each engine
            let sqls = c
                .filter
                .iter()
                .chain(c.checks.iter().filter_map(|ch| ch.filter.as_ref()));
            for sql in sqls {
                for d in dialects() {
                    if let Ok(filled) =
                        interp::interpolate_sql(&sql.template, Some(&c.vars), &d.lexicon())
                    {
                        let _ = sql::user_sql::check_expression(d, &filled);
                    }
                }
            }
        }
        Err(diags) => {
            let mut out = String::new();
            let _ = miette::GraphicalReportHandler::new().render_report(&mut out, &diags);
        }
    }
});

fn dialects() -> [&'static dyn sql::dialect::Dialect; 3] {
    [
        &sql::duckdb::DuckDbDialect,
        &sql::postgres::PostgresDialect,
        &sql::mysql::MySqlDialect,
    ]
}
