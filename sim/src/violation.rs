//! A broken promise, as every checker and the harness report it: which checker, the property's
//! source, what kind of promise (safety, liveness, end state, a scenario's expectation, or the
//! harness itself), when, on which node, and what happened.

use serde::Serialize;

use ccrsim_model::core::io::NodeId;

use crate::env::time::SimTime;

/// What kind of promise a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Something that must never happen happened (judged fact by fact).
    Safety,
    /// Something that must happen did not within the liveness bound.
    Liveness,
    /// The final state is not what the facts say it must be.
    EndState,
    /// The scenario's own expectation of a management call failed.
    Expectation,
    /// The simulation itself: a panic (a model invariant or a harness bug), a run without an
    /// outcome, a seed past its wall limit, two runs of a seed that differ.
    Harness,
}

/// A broken property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The checker's name.
    pub checker: &'static str,
    /// Where the property comes from.
    pub source: &'static str,
    /// What kind of promise broke.
    pub class: Class,
    /// When it was seen.
    #[serde(serialize_with = "serialize_time")]
    pub at: SimTime,
    /// The node concerned, if one.
    pub node: Option<NodeId>,
    /// What happened.
    pub message: String,
}

impl Violation {
    /// A violation found by a part of the harness that is no `Checker` (a scenario call's
    /// expectation, a liveness bound, a panic).
    pub fn of(checker: &'static str, source: &'static str, class: Class, at: SimTime, node: Option<NodeId>, message: String) -> Self {
        Violation { checker, source, class, at, node, message }
    }

    /// A scenario call's outcome differs from what the scenario expects.
    pub fn harness_expectation(checker: &'static str, source: &'static str, at: SimTime, node: Option<NodeId>, message: String) -> Self {
        Self::of(checker, source, Class::Expectation, at, node, message)
    }
}

fn serialize_time<S: serde::Serializer>(t: &SimTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(t.as_secs_f64())
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] at {}", self.checker, self.at)?;
        if let Some(n) = self.node {
            write!(f, " on node {n}")?;
        }
        write!(f, ": {} (property: {})", self.message, self.source)
    }
}
