// The modules of assay that read contracts and validate SQL, compiled into a fuzz target
// as the crate root would have them. Included by each target with `include!`.

#[path = "../../src/checks/mod.rs"]
mod checks;
#[path = "../../src/contract/mod.rs"]
mod contract;
#[path = "../../src/decode.rs"]
mod decode;
#[path = "../../src/diag.rs"]
mod diag;
#[path = "../../src/interp.rs"]
mod interp;
#[path = "../../src/model/mod.rs"]
mod model;
#[path = "../../src/secrets.rs"]
mod secrets;
#[path = "../../src/source.rs"]
mod source;
#[path = "../../src/sql/mod.rs"]
mod sql;
#[path = "../../src/yaml.rs"]
mod yaml;
#[path = "exec_values.rs"]
mod exec;
