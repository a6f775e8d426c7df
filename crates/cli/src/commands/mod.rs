//! One module per subcommand.

pub mod bench;
pub mod config;
pub mod demo;
pub mod push_test;
pub mod sandbox;
pub mod serve;
