//! Checkers of replica protocols, one folder per design.

pub mod dolphindb_2pc;
pub mod sequoiadb;
