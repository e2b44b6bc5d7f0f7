//! The architecture of both crates, checked from their own imports: layers import only downwards;
//! designs of one seam never import each other, and a design's lower seam never imports a higher
//! one (a replica protocol knows no pipeline); code that is not a design never imports one, except
//! where designs are composed (the model's nothing, the simulator's `registry`); and no two modules
//! import each other, directly or round a circle. A module folder's children may use their parent
//! (one type's implementation split over files); edges into an ancestor do not count as circles.
//!
//! The model, bottom up: `core`; `raft` and `dfs`; `replica` (the seam, and a folder per
//! protocol); `pipeline` (the seam, and a folder per pipeline); `deployment`, which composes them
//! through the seams only.
//!
//! The simulator, bottom up: the environment (`env`), then `trace`, `violation`, `summary` and
//! `scenario`; `topology`; `deployment` (the two types a run composes); `node`; `view` (what
//! checkers read); `checkers` (neutral ones, and a folder per design under `checkers/replica/` and
//! `checkers/pipeline/`); `design` (what the world needs of a design, and a folder per design);
//! `registry` (the one list of designs); `nemesis`; `world`; `host`; `runner`; `load`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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
/// anywhere); nothing of a file that is test code as a whole (`#![cfg(test)]`).
fn code_of(text: &str) -> String {
    if text.contains("#![cfg(test)]") {
        return String::new();
    }
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

fn graph(root: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(root, f)).collect();
    files
        .iter()
        .map(|f| {
            let me = module_of(root, f);
            let code = code_of(&std::fs::read_to_string(f).expect("readable"));
            let deps = imports(&code, &me, &modules);
            (me, deps)
        })
        .collect()
}

fn name(m: &Module) -> String {
    m.join("::")
}

fn module(path: &str) -> Module {
    path.split("::").map(str::to_string).collect()
}

/// A crate's architecture.
struct Rules {
    /// Its layers, bottom up: the first segment of a module path; one rank may hold several.
    layers: &'static [&'static [&'static str]],
    /// Its seams, lowest first: a design is a folder right under one (`replica` holds
    /// `replica::dolphindb_2pc`).
    seams: &'static [&'static str],
    /// Modules that may import designs: where designs are composed.
    composers: &'static [&'static str],
}

const MODEL: Rules = Rules {
    layers: &[&["core"], &["raft", "dfs"], &["replica"], &["pipeline"], &["deployment"]],
    seams: &["replica", "pipeline"],
    composers: &[],
};

const SIM: Rules = Rules {
    layers: &[
        &["env"],
        &["trace", "violation", "summary", "scenario"],
        &["topology"],
        &["deployment"],
        &["node"],
        &["view"],
        &["checkers"],
        &["design"],
        &["registry"],
        &["nemesis"],
        &["world"],
        &["host"],
        &["runner"],
        &["load"],
        &["shrink"],
    ],
    seams: &["checkers::replica", "checkers::pipeline", "design"],
    composers: &["registry"],
};

impl Rules {
    fn rank(&self, m: &Module) -> Option<usize> {
        self.layers.iter().position(|layer| layer.contains(&m[0].as_str()))
    }

    /// The seam (its rank) and design a module belongs to, if it is part of a design: a folder
    /// right under a seam (a module with children of its own).
    fn design_of(&self, m: &Module, folders: &BTreeSet<Module>) -> Option<(usize, String)> {
        self.seams.iter().enumerate().find_map(|(i, seam)| {
            let seam = module(seam);
            let design: Module = m.get(..seam.len() + 1)?.to_vec();
            (m.starts_with(&seam) && folders.contains(&design)).then(|| (i, name(&design)))
        })
    }

    /// What breaks the rules in `graph`.
    fn violations(&self, graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
        // A folder: a module some other module lies inside.
        let folders: BTreeSet<Module> =
            graph.keys().filter(|m| graph.keys().any(|other| other.len() > m.len() && other.starts_with(m))).cloned().collect();
        let mut wrong = Vec::new();
        for (m, deps) in graph {
            if m.is_empty() {
                continue;
            }
            let rank = self.rank(m).unwrap_or_else(|| panic!("module {} is in no layer", name(m)));
            let mine = self.design_of(m, &folders);
            let composer = self.composers.contains(&name(m).as_str());
            for dep in deps {
                if self.rank(dep).is_some_and(|r| r > rank) {
                    wrong.push(format!("{} imports {} from a higher layer", name(m), name(dep)));
                }
                let Some((dep_seam, dep_design)) = self.design_of(dep, &folders) else { continue };
                match &mine {
                    Some((seam, design)) if *seam == dep_seam && *design != dep_design => {
                        wrong.push(format!("design {design} imports design {dep_design} of the same seam"))
                    }
                    Some((seam, design)) if *seam < dep_seam => {
                        wrong.push(format!("design {design} imports {dep_design}, a design of a higher seam"))
                    }
                    None if !composer => {
                        wrong.push(format!("{} imports design {dep_design}: only the seams' designs and the composers may", name(m)))
                    }
                    _ => {}
                }
            }
        }
        wrong
    }
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

fn crate_graph(dir: &str) -> BTreeMap<Module, BTreeSet<Module>> {
    graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join("src"))
}

#[test]
fn the_model_keeps_its_layers_and_its_designs_apart() {
    let wrong = MODEL.violations(&crate_graph("model"));
    assert!(wrong.is_empty(), "model imports against the architecture:\n{}", wrong.join("\n"));
}

#[test]
fn the_simulator_keeps_its_layers_and_its_designs_apart() {
    let wrong = SIM.violations(&crate_graph("sim"));
    assert!(wrong.is_empty(), "sim imports against the architecture:\n{}", wrong.join("\n"));
}

#[test]
fn no_two_modules_import_each_other() {
    for dir in ["model", "sim"] {
        if let Some(cycle) = find_cycle(&crate_graph(dir)) {
            panic!("{dir}: modules import each other round a circle: {}", cycle.join(" -> "));
        }
    }
}

fn planted(edges: &[(&str, &[&str])]) -> BTreeMap<Module, BTreeSet<Module>> {
    edges.iter().map(|(m, deps)| (module(m), deps.iter().map(|d| module(d)).collect())).collect()
}

#[test]
fn the_checks_find_planted_breakage() {
    let modules: BTreeSet<Module> = ["core", "replica", "replica::a", "replica::b", "pipeline", "pipeline::x"].map(module).into();
    // The scanner: an upward import is seen; `pub(super)` is not an import; `super` is resolved.
    let deps = imports("use crate::replica::a::Thing;\npub(super) fn f() {}", &module("core"), &modules);
    assert_eq!(deps, [module("replica::a")].into());
    assert_eq!(imports("use super::Seam; use self::x;", &module("replica::a"), &modules), [module("replica")].into());
    assert!(imports(&code_of("// use crate::replica::a;\n#[cfg(test)]\nuse crate::pipeline::x;"), &module("core"), &modules).is_empty());
    assert!(code_of("//! helpers\n#![cfg(test)]\nuse crate::design::d;").trim().is_empty(), "a test-only file imports nothing");
    // The model's rules on a made-up graph (the children `::m` make `a`, `b`, `x` folders).
    let model = planted(&[
        ("core", &["replica"]),
        ("replica::a", &["replica::b", "replica"]),
        ("replica::a::m", &[]),
        ("replica::b", &["replica::a"]),
        ("replica::b::m", &[]),
        ("pipeline::x", &["replica::a"]),
        ("pipeline::x::m", &[]),
        ("deployment", &["pipeline::x", "replica"]),
    ]);
    let wrong = MODEL.violations(&model);
    assert!(wrong.iter().any(|w| w.contains("core imports replica from a higher layer")), "{wrong:?}");
    assert!(wrong.iter().any(|w| w.contains("design replica::a imports design replica::b")), "{wrong:?}");
    assert!(!wrong.iter().any(|w| w.contains("pipeline::x imports")), "a pipeline may use a replica protocol: {wrong:?}");
    assert!(wrong.iter().any(|w| w.contains("deployment imports design pipeline::x")), "{wrong:?}");
    assert_eq!(wrong.len(), 4, "{wrong:?}");
    let cycle = find_cycle(&model).expect("a and b import each other");
    assert!(cycle.contains(&"replica::a".to_string()) && cycle.contains(&"replica::b".to_string()), "{cycle:?}");
    // The simulator's: a neutral module naming a design, a replica checker naming a pipeline's,
    // and the registry and a design's composition, which may.
    let sim = planted(&[
        ("world", &["design::d"]),
        ("design::d", &["checkers::replica::r", "checkers::pipeline::p", "design"]),
        ("design::d::m", &[]),
        ("checkers::replica::r", &["checkers::pipeline::p", "checkers"]),
        ("checkers::replica::r::m", &[]),
        ("checkers::pipeline::p", &["checkers::replica::r", "checkers::pipeline::ledger"]),
        ("checkers::pipeline::p::m", &[]),
        ("checkers::pipeline::ledger", &[]),
        ("registry", &["design::d"]),
        ("checkers", &["design"]),
    ]);
    let wrong = SIM.violations(&sim);
    assert!(wrong.iter().any(|w| w.contains("world imports design design::d")), "{wrong:?}");
    assert!(
        wrong.iter().any(|w| w.contains("design checkers::replica::r imports checkers::pipeline::p, a design of a higher seam")),
        "{wrong:?}"
    );
    assert!(wrong.iter().any(|w| w.contains("checkers imports design from a higher layer")), "{wrong:?}");
    assert_eq!(wrong.len(), 3, "the registry, a design's composition and a pipeline's use of a replica's are allowed: {wrong:?}");
}

/// What a model file must not use: each is a way for something other than the run's seed and its
/// inputs to decide what a role does (an unordered map iterated, a clock, a thread, randomness of
/// its own, the filesystem, the network, the environment, shared mutable state, async). The model
/// is state machines, input in and output out (docs/architecture.md).
const NOT_IN_THE_MODEL: &[&str] = &[
    "HashMap",
    "HashSet",
    "Instant",
    "SystemTime",
    "thread_rng",
    "std::thread",
    "rand::",
    "getrandom",
    "async fn",
    ".await",
    "std::fs",
    "std::net",
    "std::env",
    "std::io::",
    "static mut",
    "OnceLock",
    "Mutex",
    "RefCell",
    "thread_local!",
];

/// The file of the model allowed a per-thread cell: coverage marks, which the model only writes and
/// never reads (core/marks.rs says why that cannot change a run).
const MARKS_FILE: &str = "core/marks.rs";

/// Each use of something in [`NOT_IN_THE_MODEL`] in `code`.
fn outside_inputs(code: &str) -> Vec<&'static str> {
    NOT_IN_THE_MODEL.iter().copied().filter(|word| code.contains(word)).collect()
}

#[test]
fn the_model_draws_on_nothing_but_its_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("model/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for file in &files {
        if file.ends_with(MARKS_FILE) {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(file).expect("a source file"));
        for word in outside_inputs(&code) {
            wrong.push(format!("{} uses {word}", file.strip_prefix(&root).expect("under the root").display()));
        }
    }
    assert!(files.len() > 20, "found only {} model files", files.len());
    assert!(wrong.is_empty(), "the model reaches outside its inputs:\n{}", wrong.join("\n"));
}

#[test]
fn the_purity_check_finds_planted_breakage() {
    let code = code_of(
        "use std::collections::HashMap;\nfn now() { let t = std::time::Instant::now(); }\n// HashSet in a comment\n#[cfg(test)]\nmod tests { use std::thread; }",
    );
    assert_eq!(outside_inputs(&code), vec!["HashMap", "Instant"]);
    assert!(outside_inputs("let x = BTreeMap::new();").is_empty());
}
