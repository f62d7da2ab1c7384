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
