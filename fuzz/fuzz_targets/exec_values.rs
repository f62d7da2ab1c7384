// assay's `exec` module as far as the contract model needs it: values and columns.
#[path = "../../src/exec/value.rs"]
mod value;
pub use value::{ColumnInfo, Value};
