//! No import circles between the modules of a crate: each crate's top-level modules form a
//! layered graph (a module uses only modules below it), so a newcomer can read any module
//! knowing only those it names. `docs/architecture.md` shows the layers.
//!
//! The graph is read from the source: every `crate::x` and `super::x` path outside comments,
//! resolved to the top-level module it lands in (`editor/scenes.rs` is part of `editor`; a
//! path inside one module's own tree is no edge).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates whose module graphs are checked.
const CRATES: &[&str] = &["crates/engine", "crates/inference", "crates/plugin", "crates/cli", "xtask"];

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn no_crate_has_an_import_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut circles = Vec::new();
    for krate in CRATES {
        let src = root.join(krate).join("src");
        let graph = module_graph(&src);
        assert!(graph.len() > 2, "{krate}: found only {} modules in {}", graph.len(), src.display());
        if let Some(circle) = find_circle(&graph) {
            circles.push(format!("{krate}: {}", circle.join(" -> ")));
        }
    }
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}

#[test]
fn a_circle_is_found_and_a_layered_graph_passes() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g = Graph::new();
        for (from, to) in edges {
            g.entry(from.to_string()).or_default().insert(to.to_string());
            g.entry(to.to_string()).or_default();
        }
        g
    };
    assert_eq!(find_circle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
    let circle = find_circle(&graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")])).expect("a circle");
    assert_eq!(circle.first(), circle.last());
    assert_eq!(circle.len(), 4, "{circle:?}");
}

#[test]
fn paths_resolve_to_top_level_modules() {
    let file = |path: &str| Path::new(path).to_path_buf();
    let uses = "use super::roles::Role;\n// use crate::ghost;\n/// [`crate::waveform`]\nlet x = crate::mixer::Mixer::new();\nuse super::{a, b};";
    assert_eq!(
        edges_of(&file("buses.rs"), uses),
        BTreeSet::from(["roles".into(), "mixer".into(), "a".into(), "b".into()])
    );
    // Inside editor/: `super::` is the editor itself.
    assert_eq!(
        edges_of(&file("editor/scenes.rs"), "use super::theme;\nuse crate::params::X;"),
        BTreeSet::from(["params".into()])
    );
}

/// Top-level module → the other top-level modules it names.
fn module_graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).unwrap().to_path_buf();
        let Some(module) = top_level(&relative) else { continue };
        let text = std::fs::read_to_string(&file).unwrap();
        let edges = graph.entry(module.clone()).or_default();
        edges.extend(edges_of(&relative, &text).into_iter().filter(|to| *to != module));
    }
    // Names that are not modules (items of lib.rs reached through `crate::`) are no edges.
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    graph.values_mut().for_each(|edges| edges.retain(|to| modules.contains(to)));
    graph
}

/// The top-level module a file belongs to; `None` for the crate root.
fn top_level(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?.to_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// The top-level modules `text` (the file at `relative`) names through `crate::` or `super::`.
fn edges_of(relative: &Path, text: &str) -> BTreeSet<String> {
    // `super::` from a top-level file is the crate root; from deeper, inside its own module.
    let depth = relative.components().count();
    let mut edges = BTreeSet::new();
    for line in text.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
        for (prefix, counts) in [("crate::", true), ("super::", depth == 1)] {
            let mut rest = line;
            while let Some(at) = rest.find(prefix) {
                let after = &rest[at + prefix.len()..];
                rest = after;
                if !counts {
                    continue;
                }
                if let Some(group) = after.strip_prefix('{') {
                    let group = &group[..group.find('}').unwrap_or(group.len())];
                    edges.extend(group.split(',').filter_map(|item| ident(item.trim())));
                } else if let Some(name) = ident(after) {
                    edges.insert(name);
                }
            }
        }
    }
    edges
}

/// The identifier at the start of `text`, if it is a module-like name (lower case).
fn ident(text: &str) -> Option<String> {
    let name: String = text.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (name.starts_with(|c: char| c.is_ascii_lowercase()) && name != "self").then_some(name)
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// A circle in `graph` (its first module repeated at the end), if there is one.
fn find_circle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(node: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}
