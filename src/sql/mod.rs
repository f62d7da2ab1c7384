pub mod ast;
pub mod dialect;
pub mod duckdb;
pub mod lexer;
pub mod mysql;
pub mod postgres;
pub mod spark;
pub mod user_sql;
