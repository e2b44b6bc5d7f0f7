//! ccrsim's simulated world: a whole replicated deployment inside one seeded madsim runtime.
//!
//! Layers, bottom up: [`time`], [`clock`], [`net`] and [`disk`] simulate the environment;
//! [`nemesis`] plans its faults from the seed; [`world`] holds every node, the event queue and the
//! [`trace`]; [`host`] runs the world on madsim (a task per node, a scheduler on the main node);
//! [`checkers`] judge every fact; [`scenario`] reads the TOML that describes a run; [`runner`] runs
//! seeds and sweeps and writes reports.

#[cfg(not(madsim))]
compile_error!(
    "ccrsim-sim must be built with `--cfg madsim` (set by .cargo/config.toml). Without it madsim is a thin \
     wrapper over real tokio and the simulation does not exist. A RUSTFLAGS environment variable, even an \
     empty one, replaces the config's flags: unset it."
);

pub mod checkers;
pub mod deployment;
pub mod design;
pub mod env;
pub mod host;
pub mod load;
pub mod nemesis;
pub mod node;
pub mod registry;
pub mod runner;
pub mod scenario;
pub mod summary;
pub mod topology;
pub mod trace;
pub mod view;
pub mod violation;
pub mod world;
