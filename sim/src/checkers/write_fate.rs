//! The fate of every write (issue 12; SPEC §Checkers, "the fate of every write acknowledged on the
//! source"): for each write acknowledged to a client, and each write whose outcome its client
//! cannot know, where it stands on every copy the design keeps of it when the run ends (each
//! replica, each target cluster): applied, pending, skipped by an operator's call, lost with a
//! cause the design documents, or indeterminate. A write lost without a documented cause is a
//! violation, whatever checker would otherwise have missed it.
//!
//! Each design derives the fates from its own checkers' ledgers and the final state, with its own
//! code (the design's model decides nothing here), and lists the causes of loss it documents; this
//! module counts them per copy, keeps an example of each, and gives the verdict.

use std::collections::BTreeMap;

use crate::summary::FateSummary;

/// The checker's name.
pub const NAME: &str = "write-fate";
/// Where the property comes from.
pub const SOURCE: &str = "ccrsim: every acknowledged write is applied, pending, skipped by an operator, lost with a cause its design documents, or indeterminate, on every copy (Jepsen :info for the indeterminate)";

/// How many unexplained losses a verdict names (the count names the rest).
const UNEXPLAINED_NAMED: usize = 3;

/// Where one write stands on one copy when the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fate {
    /// The copy has it.
    Applied,
    /// The copy does not have it yet, and nothing says it never will (a task waiting behind a
    /// FAILED one, a replica still recovering).
    Pending,
    /// An operator's call skipped it on this copy (the example names the call).
    Skipped,
    /// The copy will never have it, for a cause the design documents (its name).
    Lost(&'static str),
    /// The copy does not have it and nothing the design documents explains why: a violation.
    Unexplained,
    /// Its client cannot know whether it happened, and it did not happen here (yet): never counted
    /// as not-happened.
    Indeterminate,
}

impl Fate {
    /// The fate's name in reports: `applied`, `pending`, `skipped`, `lost: CAUSE`, `unexplained`,
    /// `indeterminate`.
    pub fn name(self) -> String {
        match self {
            Fate::Applied => "applied".into(),
            Fate::Pending => "pending".into(),
            Fate::Skipped => "skipped".into(),
            Fate::Lost(cause) => format!("lost: {cause}"),
            Fate::Unexplained => "unexplained".into(),
            Fate::Indeterminate => "indeterminate".into(),
        }
    }
}

/// The fates of a run's writes, as a design records them at the end.
#[derive(Debug, Clone, Default)]
pub struct Fates {
    /// Writes judged (acknowledged, or of an outcome their client cannot know).
    writes: u64,
    /// Per copy (its name), per fate: how many writes.
    counts: BTreeMap<String, BTreeMap<Fate, u64>>,
    /// The first write recorded with each (copy, fate), described.
    examples: BTreeMap<(String, Fate), String>,
    /// The first unexplained losses, described with their copy.
    unexplained: Vec<String>,
    /// Unexplained losses in all.
    unexplained_count: u64,
}

impl Fates {
    /// No write yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One more write judged (call once per write, whatever its copies).
    pub fn write(&mut self) {
        self.writes += 1;
    }

    /// Write's fate on `copy`; `describe` names the write and what the copy shows of it (called
    /// only for the first example of each fate on each copy and for unexplained losses).
    pub fn record(&mut self, copy: &str, fate: Fate, describe: impl FnOnce() -> String) {
        let per_copy = match self.counts.get_mut(copy) {
            Some(c) => c,
            None => self.counts.entry(copy.to_string()).or_default(),
        };
        *per_copy.entry(fate).or_default() += 1;
        let first = per_copy[&fate] == 1;
        if fate == Fate::Unexplained {
            self.unexplained_count += 1;
            if self.unexplained.len() < UNEXPLAINED_NAMED {
                let text = describe();
                if first {
                    self.examples.insert((copy.to_string(), fate), text.clone());
                }
                self.unexplained.push(format!("{copy}: {text}"));
            }
        } else if first {
            self.examples.insert((copy.to_string(), fate), describe());
        }
    }

    /// Writes judged.
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// How many writes have `fate` on `copy`.
    pub fn count(&self, copy: &str, fate: Fate) -> u64 {
        self.counts.get(copy).and_then(|c| c.get(&fate)).copied().unwrap_or(0)
    }

    /// The verdict: no write lost without a documented cause.
    pub fn verdict(&self) -> Result<(), String> {
        if self.unexplained_count == 0 {
            return Ok(());
        }
        let more = self.unexplained_count - self.unexplained.len() as u64;
        let tail = if more > 0 { format!("; and {more} more") } else { String::new() };
        Err(format!(
            "{} write-copies lost without a cause the design documents: {}{tail}",
            self.unexplained_count,
            self.unexplained.join("; ")
        ))
    }

    /// The report: counts per copy and fate, and one example of each.
    pub fn summary(&self) -> FateSummary {
        FateSummary {
            writes: self.writes,
            copies: self.counts.iter().map(|(copy, c)| (copy.clone(), c.iter().map(|(f, n)| (f.name(), *n)).collect())).collect(),
            examples: self.examples.iter().map(|((copy, f), text)| (format!("{copy} {}", f.name()), text.clone())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fates_are_counted_per_copy_with_one_example_each() {
        let mut f = Fates::new();
        for i in 0..3 {
            f.write();
            f.record("slave-1", Fate::Applied, || format!("write {i}"));
            f.record("slave-2", if i == 2 { Fate::Lost("task data lost") } else { Fate::Pending }, || format!("write {i}"));
        }
        assert_eq!((f.writes(), f.count("slave-1", Fate::Applied), f.count("slave-2", Fate::Pending)), (3, 3, 2));
        assert_eq!(f.verdict(), Ok(()));
        let s = f.summary();
        assert_eq!(s.copies["slave-2"]["lost: task data lost"], 1);
        assert_eq!(s.examples["slave-1 applied"], "write 0");
        assert_eq!(s.examples["slave-2 lost: task data lost"], "write 2");
    }

    #[test]
    fn an_unexplained_loss_fails_the_verdict_naming_the_first_few() {
        let mut f = Fates::new();
        let mut described = 0;
        for i in 0..5 {
            f.write();
            f.record("node 3", Fate::Unexplained, || {
                described += 1;
                format!("write {i}")
            });
        }
        let err = f.verdict().unwrap_err();
        assert!(err.starts_with("5 write-copies lost without a cause the design documents: node 3: write 0; node 3: write 1"), "{err}");
        assert!(err.ends_with("; and 2 more"), "{err}");
        assert_eq!(described, UNEXPLAINED_NAMED);
    }
}
