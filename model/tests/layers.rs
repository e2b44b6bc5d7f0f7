//! The model's architecture, checked from its own imports: layers import only downwards, designs
//! never import each other (a replica protocol never imports a pipeline), and no two modules import
//! each other, directly or round a circle. A module folder's children may use their parent (one
//! type's implementation split over files); the parent must not use its children's items back.
//!
//! Layers, bottom up: `core`; `raft` and `dfs`; `replica` (the seam and its designs); `pipeline`
//! (the seam and its designs); `deployment`, which composes designs through the seams only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Rank of each top-level layer: a module may import its own layer and lower ones.
fn layer_rank(layer: &str) -> Option<u32> {
    match layer {
        "core" => Some(0),
        "raft" | "dfs" => Some(1),
        "replica" => Some(2),
        "pipeline" => Some(3),
        "deployment" => Some(4),
        _ => None,
    }
}

/// A module path such as `replica::dolphindb_2pc::datanode`.
type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_of(root: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(root).expect("under the root").with_extension("");
    let mut parts: Module = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its `#[cfg(test)]` module (tests may reach
/// anywhere).
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every path the code names from `crate::`, `super::` or `self::` (not `pub(super)`), resolved
/// to the longest module it reaches.
fn imports(code: &str, me: &Module, modules: &BTreeSet<Module>) -> BTreeSet<Module> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let pos = from + at;
            from = pos + start.len();
            let boundary = pos == 0 || !(bytes[pos - 1].is_ascii_alphanumeric() || bytes[pos - 1] == b'_' || bytes[pos - 1] == b':');
            if !boundary {
                continue;
            }
            let rest: String = code[pos..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':').collect();
            let mut segments: Vec<&str> = rest.split("::").filter(|s| !s.is_empty()).collect();
            let mut base: Module = match segments.first().copied() {
                Some("crate") => Vec::new(),
                Some("self") => me.clone(),
                Some("super") => me[..me.len().saturating_sub(1)].to_vec(),
                _ => continue,
            };
            segments.remove(0);
            while segments.first() == Some(&"super") {
                base.pop();
                segments.remove(0);
            }
            let mut target = base.clone();
            for n in (0..=segments.len()).rev() {
                let mut candidate = base.clone();
                candidate.extend(segments[..n].iter().map(|s| s.to_string()));
                if modules.contains(&candidate) {
                    target = candidate;
                    break;
                }
            }
            if &target != me && !target.is_empty() {
                found.insert(target);
            }
        }
    }
    found
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(&root, f)).collect();
    files
        .iter()
        .map(|f| {
            let me = module_of(&root, f);
            let code = code_of(&std::fs::read_to_string(f).expect("readable"));
            let deps = imports(&code, &me, &modules);
            (me, deps)
        })
        .collect()
}

fn name(m: &Module) -> String {
    m.join("::")
}

/// What breaks the layering: imports from a higher layer, and designs of one seam importing each
/// other.
fn layering_violations(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    let mut wrong = Vec::new();
    let design = |m: &Module| (m.len() >= 2 && (m[0] == "replica" || m[0] == "pipeline")).then(|| (m[0].clone(), m[1].clone()));
    for (module, deps) in graph {
        let Some(layer) = module.first() else { continue };
        let rank = layer_rank(layer).unwrap_or_else(|| panic!("module {} is in no layer", name(module)));
        for dep in deps {
            if layer_rank(&dep[0]).is_some_and(|r| r > rank) {
                wrong.push(format!("{} imports {} from a higher layer", name(module), name(dep)));
            }
            if let (Some((s1, d1)), Some((s2, d2))) = (design(module), design(dep))
                && s1 == s2
                && d1 != d2
            {
                wrong.push(format!("design {s1}::{d1} imports design {s2}::{d2}"));
            }
            if layer == "deployment"
                && let Some((seam, d)) = design(dep)
            {
                wrong.push(format!(
                    "{} (the deployment) imports design {seam}::{d}: it composes designs through their seams only",
                    name(module)
                ));
            }
        }
    }
    wrong
}

/// A circle of imports, if any. A child may use its parent (edges into an ancestor do not count).
fn find_cycle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<String>> {
    let edges: BTreeMap<&Module, Vec<&Module>> =
        graph.iter().map(|(m, deps)| (m, deps.iter().filter(|d| !(m.len() > d.len() && m.starts_with(d))).collect())).collect();
    fn visit<'a>(
        m: &'a Module,
        edges: &BTreeMap<&'a Module, Vec<&'a Module>>,
        path: &mut Vec<&'a Module>,
        done: &mut BTreeSet<&'a Module>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| *p == m) {
            return Some(path[i..].iter().map(|p| name(p)).chain([name(m)]).collect());
        }
        if !done.insert(m) {
            return None;
        }
        path.push(m);
        for d in edges.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(d, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|m| visit(m, &edges, &mut Vec::new(), &mut done))
}

#[test]
fn layers_import_only_downwards_and_designs_never_import_each_other() {
    let wrong = layering_violations(&graph());
    assert!(wrong.is_empty(), "imports against the layering:\n{}", wrong.join("\n"));
}

#[test]
fn no_two_modules_import_each_other() {
    if let Some(cycle) = find_cycle(&graph()) {
        panic!("modules import each other round a circle: {}", cycle.join(" -> "));
    }
}

fn module(path: &str) -> Module {
    path.split("::").map(str::to_string).collect()
}

#[test]
fn the_checks_find_planted_breakage() {
    let modules: BTreeSet<Module> = ["core", "replica", "replica::a", "replica::b", "pipeline", "pipeline::x"].map(module).into();
    // The scanner: an upward import is seen; `pub(super)` is not an import; `super` is resolved.
    let deps = imports("use crate::replica::a::Thing;\npub(super) fn f() {}", &module("core"), &modules);
    assert_eq!(deps, [module("replica::a")].into());
    assert_eq!(imports("use super::Seam; use self::x;", &module("replica::a"), &modules), [module("replica")].into());
    // The rules, on a made-up graph.
    let planted: BTreeMap<Module, BTreeSet<Module>> = [
        (module("core"), [module("replica")].into()),
        (module("replica::a"), [module("replica::b"), module("replica")].into()),
        (module("replica::b"), [module("replica::a")].into()),
        (module("pipeline::x"), [module("replica::a")].into()),
        (module("deployment"), [module("pipeline::x"), module("replica")].into()),
    ]
    .into();
    let wrong = layering_violations(&planted);
    assert!(wrong.iter().any(|w| w.contains("core imports replica from a higher layer")), "{wrong:?}");
    assert!(wrong.iter().any(|w| w.contains("design replica::a imports design replica::b")), "{wrong:?}");
    assert!(!wrong.iter().any(|w| w.starts_with("pipeline::x")), "a pipeline may use a replica protocol: {wrong:?}");
    assert!(wrong.iter().any(|w| w.contains("(the deployment) imports design pipeline::x")), "{wrong:?}");
    assert_eq!(wrong.len(), 4, "{wrong:?}");
    let cycle = find_cycle(&planted).expect("a and b import each other");
    assert!(cycle.contains(&"replica::a".to_string()) && cycle.contains(&"replica::b".to_string()), "{cycle:?}");
}
