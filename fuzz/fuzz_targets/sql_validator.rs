//! Any text as user SQL, on every engine's rules. What the validator accepts must hold up:
//! no statement separator and no executable comment left in it as the engine reads it,
//! and validating it again gives the same text. A `--set` value put inside quotes stays
//! inside them.
#![no_main]
#![allow(dead_code, unused_imports)]

include!("modules.rs");

use libfuzzer_sys::fuzz_target;
use sql::lexer::{self, TokenKind};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (sql_text, value) = text.split_once('\u{0}').unwrap_or((&text, ""));
    for d in dialects() {
        let lex = d.lexicon();
        for (query, result) in [
            (false, sql::user_sql::check_expression(d, sql_text)),
            (true, sql::user_sql::check_query(d, sql_text)),
        ] {
            let Ok(clean) = result else { continue };
            let tokens = lexer::tokenize(&lex, &clean, false).expect("accepted SQL lexes");
            assert!(
                !tokens.iter().any(|t| matches!(t.kind, TokenKind::Semicolon | TokenKind::Comment { .. })),
                "{}: accepted SQL keeps a separator or comment: {clean:?}",
                d.name()
            );
            let again = if query {
                sql::user_sql::check_query(d, &clean)
            } else {
                sql::user_sql::check_expression(d, &clean)
            };
            assert_eq!(again.as_deref(), Ok(clean.as_str()), "{}", d.name());
        }
        // a value from --set inside quotes never leaves them
        let mut vars = interp::Vars::default();
        vars.set.insert("S".into(), value.to_string());
        for template in ["x = '${var.S}'", "x = \"${var.S}\"", "x = E'${var.S}'"] {
            let Ok(filled) = interp::interpolate_sql(template, Some(&vars), &lex) else {
                continue;
            };
            let tokens = lexer::tokenize(&lex, &filled, false).expect("filled SQL lexes");
            let significant: Vec<_> = lexer::significant(&tokens).collect();
            assert!(
                significant.len() <= 4,
                "{}: {template} with {value:?} became {filled:?}",
                d.name()
            );
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
