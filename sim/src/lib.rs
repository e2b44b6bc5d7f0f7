//! ccrsim's simulated world: a whole replicated deployment inside one seeded madsim runtime.
//!
//! Layers, bottom up (tests/architecture.rs holds them): [`env`](mod@env) simulates time, clocks, network and
//! disks; [`scenario`] reads the TOML that describes a run, [`topology`] says who is who;
//! [`deployment`], [`node`] and [`view`] are what every layer above knows of the running roles;
//! [`checkers`] judge every fact; [`design`] is what the world needs of a design, one folder each;
//! [`registry`](mod@registry) lists the designs; [`nemesis`] plans the faults from the seed; [`world`] holds every
//! node, the event queue and the [`trace`]; [`host`] runs the world on madsim (a task per node, a
//! scheduler on the main node); [`runner`] runs seeds and sweeps and writes reports; [`load`] loads
//! scenario files with the checks that need the designs.

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
pub mod shrink;
pub mod summary;
pub mod topology;
pub mod trace;
pub mod view;
pub mod violation;
pub mod world;
