//! GC safety: the source truncates its log only below what every target finished (DolphinDB: the
//! master truncates its queue, and deletes task data, only up to what every slave reported
//! finished; Doris: binlog GC must not pass the syncer's position, which upstream enforces with binlog locks). When the log is
//! truncated below an id, every target has finished every entry below it.

use ccrsim_model::core::io::NodeId;

use super::event::PipelineEvent;
use super::ledger::PipelineLedger;
use crate::checkers::Checker;

/// The checker's name.
pub const NAME: &str = "gc-safety";
/// Where the property comes from.
pub const SOURCE: &str = "log garbage collection below what every target finished: DolphinDB truncates below the slaves' finished taskIds (isTruncated); Doris binlog GC must not pass the syncer's position (binlog locks in ccr-syncer)";

/// Judges every truncation of the source's log.
#[derive(Debug, Default)]
pub struct GcSafety;

impl<V: ?Sized> Checker<PipelineLedger, PipelineEvent<'_>, V> for GcSafety {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &PipelineLedger, _node: NodeId, event: &PipelineEvent<'_>) -> Result<(), String> {
        let PipelineEvent::Truncated { below } = *event else { return Ok(()) };
        for (target, t) in &ledger.targets {
            let id = t.finished_below();
            if id < below {
                let state = t.entries.get(&id).map_or("not fetched", |e| e.state.name());
                return Err(format!("the source truncated below entry {below} while entry {id} is {state} on {}", target.name()));
            }
        }
        Ok(())
    }
}
