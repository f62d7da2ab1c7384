pub mod ast;
pub mod dialect;
pub mod duckdb;
pub mod user_sql;
