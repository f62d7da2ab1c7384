//! The shape of `src/`: its top-level modules keep the layer order docs/architecture.md
//! writes down, and depend on each other without a cycle, so each can be read (and
//! changed) knowing only the modules below it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level module a file belongs to: `src/plan.rs` -> plan, `src/sql/ast.rs` -> sql.
fn module_of(path: &Path, src: &Path) -> Option<String> {
    let rel = path.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.trim_end_matches(".rs");
    (!matches!(name, "main" | "lib")).then(|| name.to_string())
}

/// Top-level modules named after `crate::` in a file, `use crate::{a, b::c}` included.
fn references(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                // the names at the group's top level, not inside nested braces
                let mut depth = 0;
                let mut start = 0;
                for (j, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            out.insert(ident(group[start..j].trim()));
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            out.insert(ident(group[start..j].trim()));
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
            }
            None => {
                out.insert(ident(rest));
            }
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A cycle in `graph` as a path of modules, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

/// Each top-level module of `src/` and the modules it names after `crate::`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    files(&src, &mut paths);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &paths {
        let Some(module) = module_of(path, &src) else {
            continue;
        };
        let text = std::fs::read_to_string(path).unwrap();
        let refs = graph.entry(module.clone()).or_default();
        refs.extend(references(&text).into_iter().filter(|r| *r != module));
    }
    graph
}

/// The layers block of docs/architecture.md: module -> its line (0 is the lowest).
fn declared_layers(doc: &str) -> BTreeMap<String, usize> {
    let start = doc.find("## Layers").expect("a Layers section");
    let block = &doc[start..];
    let block = &block[block.find("```\n").unwrap() + 4..];
    let block = &block[..block.find("```").unwrap()];
    let mut layers = BTreeMap::new();
    for (i, line) in block.lines().enumerate() {
        // the names, then at least three spaces before the words about them
        let names = line.split("   ").next().unwrap_or("");
        for name in names.split("  ").map(str::trim).filter(|n| !n.is_empty()) {
            assert!(
                layers.insert(name.to_string(), i).is_none(),
                "{name} is on two lines of the layers block"
            );
        }
    }
    layers
}

/// Uses of a module on the user's own line or below.
fn against_layers(
    graph: &BTreeMap<String, BTreeSet<String>>,
    layers: &BTreeMap<String, usize>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (module, uses) in graph {
        let Some(&own) = layers.get(module) else {
            out.push(format!("{module} is not in the layers block"));
            continue;
        };
        for used in uses {
            match layers.get(used) {
                Some(&l) if l < own => {}
                Some(_) => out.push(format!("{module} uses {used}, which is not above it")),
                None => out.push(format!(
                    "{used} (used by {module}) is not in the layers block"
                )),
            }
        }
    }
    out
}

#[test]
fn the_modules_of_src_keep_the_layer_order_of_the_architecture_doc() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .unwrap();
    let layers = declared_layers(&doc);
    assert!(layers.len() > 30, "{layers:?}");
    let graph = module_graph();
    let wrong = against_layers(&graph, &layers);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // the check itself: a reporter importing scan is refused
    let mut bad = graph.clone();
    bad.get_mut("report").unwrap().insert("scan".into());
    assert_eq!(
        against_layers(&bad, &layers),
        ["report uses scan, which is not above it"]
    );
}

#[test]
fn the_modules_of_src_have_no_import_cycle() {
    let graph = module_graph();
    assert!(graph.len() > 15, "modules found: {:?}", graph.keys());
    assert!(graph["plan"].contains("checks"), "{:?}", graph["plan"]);
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle in src/: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(
        references("use crate::{x::{Y, Z}, w};\nlet a = crate::v::f();"),
        ["v", "w", "x"].into_iter().map(String::from).collect()
    );
}

/// The text of each file of `src/` before its unit tests.
fn sources() -> Vec<(std::path::PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    files(&src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            (p, code)
        })
        .collect()
}

/// Functions of `code` longer than `max` lines whose doc comment does not say why they
/// are one piece: (name, lines). A function ends at the first line that closes it at its
/// own indentation.
fn long_functions(code: &str, max: usize) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        let rest = line.trim_start();
        let rest = rest
            .strip_prefix("pub(crate) ")
            .or_else(|| rest.strip_prefix("pub(super) "))
            .or_else(|| rest.strip_prefix("pub "))
            .unwrap_or(rest);
        let rest = rest.strip_prefix("async ").unwrap_or(rest);
        let Some(sig) = rest.strip_prefix("fn ") else {
            i += 1;
            continue;
        };
        let name: String = sig
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // a declaration without a body (a trait's) ends with ';' before any '{'
        let Some(open) = (i..lines.len()).find(|&j| {
            let l = lines[j].trim_end();
            l.ends_with('{') || l.ends_with(';')
        }) else {
            break;
        };
        if lines[open].trim_end().ends_with(';') {
            i = open + 1;
            continue;
        }
        let close = format!("{}}}", " ".repeat(indent));
        let end = (open + 1..lines.len())
            .find(|&j| lines[j] == close)
            .unwrap_or(lines.len() - 1);
        let length = end - i + 1;
        let doc: Vec<&str> = lines[..i]
            .iter()
            .rev()
            .take_while(|l| l.trim_start().starts_with("///") || l.trim_start().starts_with("#["))
            .copied()
            .collect();
        if length > max && !doc.iter().any(|l| l.contains("One piece on purpose")) {
            out.push((name, length));
        }
        i = end + 1;
    }
    out
}

/// A function is short enough to read whole, or says why it must be one piece (a
/// scanner's branches, an algorithm whose steps share their state).
#[test]
fn no_function_of_src_is_over_100_lines_without_its_reason() {
    let mut long = Vec::new();
    for (path, code) in sources() {
        for (name, lines) in long_functions(&code, 100) {
            long.push(format!("{}: {name} ({lines} lines)", path.display()));
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
    // the finder itself: a long function is found, and its reason lets it be
    let body = "    x();\n".repeat(120);
    let long_one = format!("/// does x\nfn long() {{\n{body}}}\n");
    assert_eq!(long_functions(&long_one, 100), [("long".to_string(), 122)]);
    let said = format!("/// One piece on purpose: a scanner\nfn long() {{\n{body}}}\n");
    assert!(long_functions(&said, 100).is_empty());
}

/// The `Result<_, String>` types written in `code`.
fn string_errors(code: &str) -> Vec<String> {
    let flat: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = flat[from..].find("Result<") {
        let start = from + i + "Result<".len();
        // the error type: after the last top-level comma before the closing '>'
        let mut depth = 0;
        let mut last_comma = None;
        let mut end = None;
        for (j, c) in flat[start..].char_indices() {
            match c {
                '<' | '(' | '[' => depth += 1,
                '>' | ')' | ']' if depth == 0 => {
                    end = Some(start + j);
                    break;
                }
                '>' | ')' | ']' => depth -= 1,
                ',' if depth == 0 => last_comma = Some(start + j),
                _ => {}
            }
        }
        if let (Some(comma), Some(end)) = (last_comma, end) {
            if flat[comma + 1..end].trim() == "String" {
                found.push(flat[from + i..=end].to_string());
            }
        }
        from = start;
    }
    found
}

/// An error at a seam is a type that says which case it is, not a string: no
/// `Result<_, String>` outside unit tests.
#[test]
fn no_seam_of_src_returns_a_string_error() {
    let mut found = Vec::new();
    for (path, code) in sources() {
        for e in string_errors(&code) {
            found.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
    // the finder itself, across lines and nested types
    let sample =
        "fn a() -> Result<Vec<(u8, u8)>,\n    String> {}\nfn b() -> Result<u8, MyError> {}";
    assert_eq!(string_errors(sample), ["Result<Vec<(u8, u8)>, String>"]);
}

/// One meaning per name: no two types of `src/` share a name, save the parts every check
/// type's file has (its `Type` and its `Handles`), which are always named with their
/// module (`missing::TYPE`).
#[test]
fn no_two_types_of_src_share_a_name() {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, code) in sources() {
        for line in code.lines() {
            let rest = line.trim_start();
            let rest = rest.strip_prefix("pub(crate) ").unwrap_or(rest);
            let rest = rest.strip_prefix("pub ").unwrap_or(rest);
            let Some(rest) = rest
                .strip_prefix("struct ")
                .or_else(|| rest.strip_prefix("enum "))
                .or_else(|| rest.strip_prefix("trait "))
            else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            seen.entry(name)
                .or_default()
                .push(path.display().to_string());
        }
    }
    let shared: Vec<String> = seen
        .into_iter()
        .filter(|(name, at)| at.len() > 1 && !matches!(name.as_str(), "Type" | "Handles"))
        .map(|(name, at)| format!("{name}: {}", at.join(", ")))
        .collect();
    assert!(shared.is_empty(), "{}", shared.join("\n"));
}
