//! Scenario inheritance: a file names a `base` and writes only what differs from it, as
//! FoundationDB's test files build on one another. Without it every negative scenario repeats the
//! whole cluster, workload and nemesis of the scenario it plants a bug in, and the copies drift.
//!
//! The rules (docs/scenarios.md gives the user's version):
//! - `base = "NAME"` names a shipped scenario, resolved as the command line resolves names (the
//!   embedded set); any other value ending in `.toml` or holding a `/` is a path relative to the
//!   folder of the file that names it. A shipped scenario used as a base may only name shipped
//!   scenarios in turn: it is embedded in the binary and has no folder to resolve a path from.
//! - A base may have a base, at most [`MAX_BASES`] in one chain; a chain that comes back to a file
//!   it already passed is refused.
//! - Merging: a table merges key by key with the inheriting file's keys winning; every other value
//!   (scalar, array, array of tables) replaces the base's whole, and so do the maps in
//!   [`REPLACED_WHOLE`], whose keys are data rather than fields.
//! - [`NOT_INHERITED`] keys are taken from the inheriting file alone.
//! - The merged table is then deserialized and validated as any scenario, and an error names the
//!   file the offending value came from.
//!
//! A file without `base` never comes here: [`parse_inherited`] hands it back to
//! [`Scenario::parse`], which treats it as before inheritance existed.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use toml::{Table, Value};

use super::{DeploymentCheck, EMBEDDED, Scenario, ScenarioError};

/// Bases one chain may have at most. Real chains are one or two deep; the bound turns a runaway
/// chain (one the cycle check cannot see, such as a shipped scenario reached once by name and
/// once by path) into an error instead of a long loop.
const MAX_BASES: usize = 8;

/// Keys a scenario never takes from its base. `name` and `description` say which scenario this is.
/// `planted_bugs` and `expect` say what it proves: a negative scenario built on another must plant
/// its own bug and expect its own checker, never silently the other's.
const NOT_INHERITED: [&str; 4] = ["name", "description", "planted_bugs", "expect"];

/// Tables replaced whole like arrays: their keys are data (operation types, database names), so a
/// key-by-key merge would leave the inheriting file no way to drop one of the base's entries. This
/// matches the defaults: a `dfs_workload.mix` given replaces the whole default mix.
const REPLACED_WHOLE: [&str; 2] = ["dfs_workload.mix", "replication.databases"];

/// Where a layer's text came from, which decides how its own `base` resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A file on disk: a relative path resolves from its folder.
    File,
    /// A shipped scenario from the embedded set: only names resolve.
    Embedded,
}

/// One file of a chain, its `base` not yet taken out.
#[derive(Debug)]
struct Layer {
    /// The file as errors name it.
    file: String,
    /// What identifies the file when looking for cycles.
    identity: String,
    origin: Origin,
    table: Table,
}

/// A chain merged into one table, with the file each value came from.
struct Merged {
    /// The files of the chain, the inheriting file first.
    files: Vec<String>,
    table: Table,
    /// Dotted path of every value set (scalars, arrays, whole-replaced maps) to its file in `files`.
    origin: BTreeMap<String, usize>,
}

/// Parses `text` (named `file` in errors) if it names a base; `None` when it does not, or is not
/// valid TOML, so that [`Scenario::parse`] goes on as for any file and reports syntax errors itself.
pub(super) fn parse_inherited(file: &str, text: &str, deployment: DeploymentCheck) -> Option<Result<Scenario, ScenarioError>> {
    let table: Table = toml::from_str(text).ok()?;
    if !table.contains_key("base") {
        return None;
    }
    let top = Layer { file: file.to_string(), identity: identity_of(Path::new(file)), origin: Origin::File, table };
    Some(resolve(top).and_then(|merged| merged.into_scenario(deployment)))
}

/// Follows the chain of bases from `top` and merges it.
fn resolve(top: Layer) -> Result<Merged, ScenarioError> {
    let top_file = top.file.clone();
    let mut chain = vec![top];
    loop {
        let child = chain.last_mut().expect("the chain starts with the top file");
        let Some(reference) = child.table.remove("base") else { break };
        let child = chain.last().expect("the chain starts with the top file");
        let Value::String(reference) = reference else {
            let reason = format!("must be a shipped scenario's name or a path to a .toml file, got a {}", reference.type_str());
            return Err(fail(&top_file, &child.file, "base", reason));
        };
        let base = locate(&top_file, child, &reference)?;
        let path = |chain: &[Layer]| chain.iter().map(|l| l.file.as_str()).chain([base.file.as_str()]).collect::<Vec<_>>().join(" -> ");
        if chain.iter().any(|l| l.identity == base.identity) {
            return Err(fail(&top_file, &child.file, "base", format!("inheritance cycle: {}", path(&chain))));
        }
        if chain.len() > MAX_BASES {
            return Err(fail(&top_file, &child.file, "base", format!("more than {MAX_BASES} bases in one chain: {}", path(&chain))));
        }
        chain.push(base);
    }
    let files: Vec<String> = chain.iter().map(|l| l.file.clone()).collect();
    let mut table = Table::new();
    let mut origin = BTreeMap::new();
    for (i, layer) in chain.into_iter().enumerate().rev() {
        let mut layer_table = layer.table;
        if i > 0 {
            for key in NOT_INHERITED {
                layer_table.remove(key);
            }
        }
        merge(&mut table, layer_table, "", i, &mut origin);
    }
    Ok(Merged { files, table, origin })
}

/// Finds and reads the base `reference` named by `child`.
fn locate(top_file: &str, child: &Layer, reference: &str) -> Result<Layer, ScenarioError> {
    if let Some((name, text)) = EMBEDDED.iter().find(|(n, _)| *n == reference) {
        // Named as `Scenario::embedded` names it, so that errors read the same either way.
        let file = format!("scenarios/{name}.toml");
        let table = parse_table(top_file, &file, text)?;
        return Ok(Layer { identity: file.clone(), file, origin: Origin::Embedded, table });
    }
    let fail = |reason: String| fail(top_file, &child.file, "base", reason);
    if !(reference.ends_with(".toml") || reference.contains('/')) {
        let names: Vec<&str> = EMBEDDED.iter().map(|(n, _)| *n).collect();
        return Err(fail(format!("no shipped scenario named {reference:?} (known: {}) and not a .toml path", names.join(", "))));
    }
    if child.origin == Origin::Embedded {
        return Err(fail(format!("a shipped scenario names its base by name, not by path ({reference:?}): it has no folder on disk")));
    }
    let path = Path::new(&child.file).parent().unwrap_or(Path::new("")).join(reference);
    let text = std::fs::read_to_string(&path).map_err(|e| fail(format!("cannot read base {}: {e}", tidy(&path).display())))?;
    let file = tidy(&path).display().to_string();
    let table = parse_table(top_file, &file, &text)?;
    Ok(Layer { file, identity: identity_of(&path), origin: Origin::File, table })
}

/// Parses a base's text as a TOML table; a syntax error names the base and where in it.
fn parse_table(top_file: &str, file: &str, text: &str) -> Result<Table, ScenarioError> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let at = e.span().map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!(" (line {line}, column {column})")
        });
        fail(top_file, file, "-", format!("not valid TOML: {}{}", e.message(), at.unwrap_or_default()))
    })
}

/// Merges `from` (the file numbered `file`) over `into`; `prefix` is the dotted path of both.
fn merge(into: &mut Table, from: Table, prefix: &str, file: usize, origin: &mut BTreeMap<String, usize>) {
    for (key, value) in from {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match (into.get_mut(&key), value) {
            (Some(Value::Table(old)), Value::Table(new)) if !REPLACED_WHOLE.contains(&path.as_str()) => {
                merge(old, new, &path, file, origin);
            }
            (_, value) => {
                origin.retain(|set, _| !covers(&path, set));
                record(&path, &value, file, origin);
                into.insert(key, value);
            }
        }
    }
}

/// Records `file` as the origin of every value in `value` (at `path`).
fn record(path: &str, value: &Value, file: usize, origin: &mut BTreeMap<String, usize>) {
    match value {
        Value::Table(table) if !REPLACED_WHOLE.contains(&path) => {
            for (key, value) in table {
                record(&format!("{path}.{key}"), value, file, origin);
            }
        }
        _ => {
            origin.insert(path.to_string(), file);
        }
    }
}

/// Whether the field `inner` is `outer` or inside it (`faults.schedule[0].nodes` is in
/// `faults.schedule`, `faults.kinds2` is not in `faults.kinds`).
fn covers(outer: &str, inner: &str) -> bool {
    inner.strip_prefix(outer).is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

impl Merged {
    /// Deserializes and validates the merged table as [`Scenario::parse`] does a file's text.
    fn into_scenario(self, deployment: DeploymentCheck) -> Result<Scenario, ScenarioError> {
        let Merged { files, table, origin } = self;
        let sourced = Sources { files: &files, origin: &origin };
        let scenario: Scenario = serde_path_to_error::deserialize(table).map_err(|e| {
            let field = e.path().to_string();
            let field = if field == "." { "-".to_string() } else { field };
            sourced.error(&field, e.into_inner().message().to_string())
        })?;
        scenario.validate(deployment).map_err(|(field, reason)| sourced.error(&field, reason))?;
        Ok(scenario)
    }
}

/// Which file a field's value came from.
struct Sources<'a> {
    files: &'a [String],
    origin: &'a BTreeMap<String, usize>,
}

impl Sources<'_> {
    /// An error about `field`, naming the file its value came from.
    fn error(&self, field: &str, reason: String) -> ScenarioError {
        fail(&self.files[0], &self.files[self.source_of(field)], field, reason)
    }

    /// The file that set `field` or the array or map holding it; for a table, the one file that set
    /// values in it; otherwise (values from several files, or a default) the inheriting file.
    fn source_of(&self, field: &str) -> usize {
        let holder = self.origin.iter().filter(|(set, _)| covers(set, field)).max_by_key(|(set, _)| set.len());
        if let Some((_, &file)) = holder {
            return file;
        }
        let mut inside = self.origin.iter().filter(|(set, _)| covers(field, set)).map(|(_, &file)| file);
        match inside.next() {
            Some(first) if inside.all(|file| file == first) => first,
            _ => 0,
        }
    }
}

/// An error in `file` while loading `top_file`; a base's error also says whose base it is, since the
/// user asked for the inheriting scenario and may not know its chain.
fn fail(top_file: &str, file: &str, field: &str, reason: String) -> ScenarioError {
    let reason = if file == top_file { reason } else { format!("{reason} (in a base of {top_file})") };
    ScenarioError { file: file.to_string(), field: field.to_string(), reason }
}

/// The file's real path when it exists, so that two spellings of one file are one file in a chain.
fn identity_of(path: &Path) -> String {
    std::fs::canonicalize(path).unwrap_or_else(|_| tidy(path)).display().to_string()
}

/// `path` without `.` and with `dir/..` folded, for error messages: `scenarios/negative/../x.toml`
/// reads as `scenarios/x.toml`.
fn tidy(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A complete negative scenario: every section the tests override, a bug and an expectation.
    const BASE: &str = r#"
name = "the-base"
description = "the base"
[run]
safety_s = 30.0
liveness_bound_s = 20.0
seeds_ci = 5
[cluster.master]
controllers = 3
data_nodes = 2
[raft]
heartbeat_ms = 50
max_entries_per_append = 4
[dfs_workload]
clients = 1
ops_per_s = 10.0
mix = { APPEND = 1, UPSERT = 2 }
[faults]
kinds = ["crash", "pause"]
mean_interval_s = 3.0
[[faults.schedule]]
at_s = 1.0
fault = "crash"
nodes = ["master.controller.0"]
[[faults.schedule]]
at_s = 2.0
fault = "crash"
nodes = ["master.controller.1"]
[planted_bugs.raft]
vote_twice = true
[expect]
violation = "election-safety"
"#;

    /// A folder of scenario files for one test, removed afterwards.
    struct Dir(PathBuf);

    impl Dir {
        fn new(test: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!("ccrsim-inherit-{}-{test}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temp dir");
            Dir(dir)
        }

        /// Writes `name` (may hold folders) and returns its path.
        fn write(&self, name: &str, text: &str) -> String {
            let path = self.0.join(name);
            std::fs::create_dir_all(path.parent().expect("in the folder")).expect("folder");
            std::fs::write(&path, text).expect("written");
            path.display().to_string()
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn load(path: &str) -> Scenario {
        Scenario::load(path).unwrap_or_else(|e| panic!("{e}"))
    }

    fn refused(path: &str) -> ScenarioError {
        Scenario::load(path).expect_err("refused")
    }

    #[test]
    fn tables_merge_key_by_key_and_the_inheriting_file_wins() {
        let dir = Dir::new("merge");
        dir.write("base.toml", BASE);
        let child =
            dir.write("child.toml", "name = \"child\"\nbase = \"base.toml\"\n[run]\nseeds_ci = 7\n[raft]\nmax_entries_per_append = 9\n");
        let s = load(&child);
        assert_eq!((s.run.safety_s, s.run.liveness_bound_s, s.run.seeds_ci), (30.0, 20.0, 7), "run merges key by key");
        assert_eq!((s.raft.heartbeat_ms, s.raft.max_entries_per_append), (50, 9), "raft merges key by key");
        assert_eq!(s.cluster.master.data_nodes, 2, "a table the child does not mention is the base's");
        assert_eq!(s.raft.election_timeout_ms, [300, 600], "what neither file sets is the default");
    }

    #[test]
    fn arrays_and_data_maps_replace_the_base_whole() {
        let dir = Dir::new("replace");
        dir.write("base.toml", BASE);
        let child = dir.write(
            "child.toml",
            "name = \"child\"\nbase = \"base.toml\"\n[faults]\nkinds = [\"isolate\"]\n[[faults.schedule]]\nat_s = 5.0\nfault = \"pause\"\n\
             nodes = [\"master.controller.2\"]\n[dfs_workload]\nmix = { SQL_DELETE = 3 }\n",
        );
        let s = load(&child);
        assert_eq!(s.faults.kinds, vec![crate::scenario::FaultKind::Isolate], "an array replaces the base's whole");
        assert_eq!(s.faults.schedule.len(), 1, "an array of tables replaces the base's whole");
        assert_eq!(s.faults.schedule[0].at_s, 5.0);
        assert_eq!(s.faults.mean_interval_s, 3.0, "the faults table still merges");
        assert_eq!(s.dfs_workload.mix.keys().collect::<Vec<_>>(), vec!["SQL_DELETE"], "a data map replaces the base's whole");
        let none = dir.write("none.toml", "name = \"none\"\nbase = \"base.toml\"\n[faults]\nschedule = []\n");
        assert!(load(&none).faults.schedule.is_empty(), "an empty array clears the base's");
    }

    #[test]
    fn name_description_planted_bugs_and_expect_are_not_inherited() {
        let dir = Dir::new("own");
        dir.write("base.toml", BASE);
        let child = dir.write("child.toml", "name = \"child\"\nbase = \"base.toml\"\n");
        let s = load(&child);
        assert_eq!(s.name, "child");
        assert_eq!(s.description, "");
        assert!(!s.planted_bugs.any(), "the base's bug is not planted: {:?}", s.planted_bugs.names());
        assert_eq!(s.expect.violation, None);
        let own = dir.write(
            "own.toml",
            "name = \"own\"\nbase = \"base.toml\"\n[planted_bugs.raft]\napply_uncommitted = true\n[expect]\nviolation = \"state-machine-safety\"\n",
        );
        let s = load(&own);
        assert_eq!(s.planted_bugs.names(), vec!["raft.apply_uncommitted"], "only the child's own bug");
        assert_eq!(s.expect.violation.as_deref(), Some("state-machine-safety"));
        let nameless = dir.write("nameless.toml", "base = \"base.toml\"\n");
        let e = refused(&nameless);
        assert_eq!((e.file.as_str(), e.field.as_str()), (nameless.as_str(), "-"), "{e}");
        assert!(e.reason.contains("missing field `name`"), "{e}");
    }

    #[test]
    fn a_shipped_scenario_is_a_base_by_name() {
        let dir = Dir::new("by-name");
        let child = dir.write("child.toml", "name = \"child\"\nbase = \"controllers-crash-storm\"\n[run]\nseeds_ci = 3\n");
        let s = load(&child);
        let shipped = Scenario::embedded("controllers-crash-storm").expect("shipped");
        assert_eq!(s.disk, shipped.disk);
        assert_eq!(s.faults, shipped.faults);
        assert_eq!((s.run.seeds_ci, s.run.seeds_default), (3, shipped.run.seeds_default));
        assert_eq!((s.name.as_str(), s.description.as_str()), ("child", ""));
    }

    #[test]
    fn relative_paths_resolve_from_the_folder_of_the_file_that_names_them() {
        let dir = Dir::new("paths");
        dir.write("common/root.toml", BASE);
        dir.write("common/sub/middle.toml", "base = \"../root.toml\"\n[run]\nseeds_ci = 11\n");
        let child = dir.write("negative/child.toml", "name = \"child\"\nbase = \"../common/sub/middle.toml\"\n[run]\nsafety_s = 12.0\n");
        let s = load(&child);
        assert_eq!((s.run.safety_s, s.run.seeds_ci, s.raft.heartbeat_ms), (12.0, 11, 50));
    }

    #[test]
    fn cycles_are_refused() {
        let dir = Dir::new("cycles");
        let itself = dir.write("itself.toml", "name = \"itself\"\nbase = \"itself.toml\"\n");
        let e = refused(&itself);
        assert_eq!((e.file.as_str(), e.field.as_str()), (itself.as_str(), "base"), "{e}");
        assert!(e.reason.contains("inheritance cycle"), "{e}");
        let a = dir.write("a.toml", "name = \"a\"\nbase = \"b.toml\"\n");
        let b = dir.write("b.toml", "base = \"./a.toml\"\n");
        let e = refused(&a);
        assert_eq!((e.file.as_str(), e.field.as_str()), (b.as_str(), "base"), "the file that closes the cycle: {e}");
        assert!(e.reason.contains(&format!("inheritance cycle: {a} -> {b} -> {a}")), "{e}");
        assert!(e.reason.contains(&format!("in a base of {a}")), "{e}");
    }

    #[test]
    fn chains_of_more_than_max_bases_are_refused() {
        let dir = Dir::new("depth");
        let files: Vec<String> = (0..=MAX_BASES + 1)
            .map(|i| {
                let text = if i == MAX_BASES + 1 { BASE.to_string() } else { format!("name = \"s{i}\"\nbase = \"s{}.toml\"\n", i + 1) };
                dir.write(&format!("s{i}.toml"), &text)
            })
            .collect();
        assert_eq!(load(&files[1]).name, "s1", "{MAX_BASES} bases are allowed");
        let e = refused(&files[0]);
        assert_eq!((e.file.as_str(), e.field.as_str()), (files[MAX_BASES].as_str(), "base"), "{e}");
        assert!(e.reason.contains(&format!("more than {MAX_BASES} bases")), "{e}");
    }

    #[test]
    fn unknown_unreadable_and_malformed_bases_are_refused_with_file_field_and_reason() {
        let dir = Dir::new("unknown");
        for (text, reason) in [
            ("base = \"no-such-scenario\"", "no shipped scenario named \"no-such-scenario\" (known: controllers-chaos"),
            ("base = \"missing.toml\"", "cannot read base"),
            ("base = 3", "must be a shipped scenario's name or a path to a .toml file, got a integer"),
        ] {
            let child = dir.write("child.toml", &format!("name = \"child\"\n{text}\n"));
            let e = refused(&child);
            assert_eq!((e.file.as_str(), e.field.as_str()), (child.as_str(), "base"), "{e}");
            assert!(e.reason.contains(reason), "{e}");
            assert!(e.to_string().starts_with(&format!("{child}: field `base`: ")), "{e}");
        }
        let bad = dir.write("bad.toml", "[run\n");
        let child = dir.write("child.toml", "name = \"child\"\nbase = \"bad.toml\"\n");
        let e = refused(&child);
        assert_eq!((e.file.as_str(), e.field.as_str()), (bad.as_str(), "-"), "{e}");
        assert!(e.reason.contains("not valid TOML") && e.reason.contains("(line 1, column"), "{e}");
    }

    #[test]
    fn errors_name_the_file_the_bad_value_came_from() {
        let dir = Dir::new("blame");
        let typo = dir.write("typo.toml", &BASE.replace("controllers = 3", "controllers = 3\ncontrolers = 3"));
        let child = dir.write("child.toml", "name = \"child\"\nbase = \"typo.toml\"\n");
        let e = refused(&child);
        assert_eq!((e.file.as_str(), e.field.as_str()), (typo.as_str(), "cluster.master.controlers"), "{e}");
        assert!(e.reason.contains("unknown field") && e.reason.contains(&format!("(in a base of {child})")), "{e}");

        let base = dir.write("base.toml", &BASE.replace("heartbeat_ms = 50", "heartbeat_ms = 900"));
        let child = dir.write("child.toml", "name = \"child\"\nbase = \"base.toml\"\n");
        let e = refused(&child);
        assert_eq!((e.file.as_str(), e.field.as_str()), (base.as_str(), "raft.heartbeat_ms"), "a validation error: {e}");

        let child = dir.write("child.toml", "name = \"child\"\nbase = \"base.toml\"\n[raft]\nheartbeat_ms = 800\n");
        let e = refused(&child);
        assert_eq!((e.file.as_str(), e.field.as_str()), (child.as_str(), "raft.heartbeat_ms"), "the child's value: {e}");
        assert!(!e.reason.contains("in a base of"), "{e}");

        dir.write("base.toml", BASE);
        let child = dir.write("child.toml", "name = \"child\"\nbase = \"base.toml\"\n[faults]\nkinds = [\"meteor\"]\n");
        let e = refused(&child);
        assert_eq!((e.file.as_str(), e.field.as_str()), (child.as_str(), "faults.kinds[0]"), "inside the child's array: {e}");

        let child = dir.write("child.toml", "name = \"child\"\nbase = \"base.toml\"\n[[faults.schedule]]\nat_s = 1.0\nfault = \"crash\"\n");
        let e = refused(&child);
        assert_eq!((e.file.as_str(), e.field.as_str()), (child.as_str(), "faults.schedule[0].nodes"), "a field the child left out: {e}");
    }

    #[test]
    fn a_shipped_scenario_names_its_base_by_name_only() {
        let embedded = Layer {
            file: "scenarios/some-shipped.toml".into(),
            identity: "scenarios/some-shipped.toml".into(),
            origin: Origin::Embedded,
            table: toml::from_str("base = \"negative/base/controllers-swarm.toml\"").expect("toml"),
        };
        let e = resolve(embedded).err().expect("refused");
        assert_eq!((e.file.as_str(), e.field.as_str()), ("scenarios/some-shipped.toml", "base"), "{e}");
        assert!(e.reason.contains("by name, not by path"), "{e}");
    }

    #[test]
    fn every_embedded_scenario_loads_without_the_files_on_disk() {
        // Tests run in sim/, which has no scenarios/ folder: a shipped scenario whose base were a
        // path would load from a checkout's root only, not from an installed binary.
        for (name, text) in EMBEDDED {
            Scenario::parse(&format!("scenarios/{name}.toml"), text).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn a_file_without_a_base_is_left_to_the_usual_parse() {
        assert!(parse_inherited("x.toml", "name = \"x\"\n", |_| Ok(())).is_none());
        assert!(parse_inherited("x.toml", "base = \"y\"\n[run\n", |_| Ok(())).is_none(), "syntax errors are reported by the usual parse");
        let e = Scenario::parse("x.toml", "name = \"x\"\n[run\n").expect_err("bad TOML");
        assert!(e.reason.contains("not valid TOML"), "{e}");
    }

    #[test]
    fn tidy_folds_parent_folders_for_messages() {
        assert_eq!(tidy(Path::new("scenarios/negative/../x.toml")), PathBuf::from("scenarios/x.toml"));
        assert_eq!(tidy(Path::new("./a/./b/../../c.toml")), PathBuf::from("c.toml"));
        assert_eq!(tidy(Path::new("../a.toml")), PathBuf::from("../a.toml"));
        assert!(covers("faults.schedule", "faults.schedule[0].nodes") && !covers("faults.kinds", "faults.kinds2"));
    }
}
