//! `nacore-loadgen` binary: parse the flags, run the scenario, exit with its status.

use clap::Parser;

fn main() {
    let cli = nacore_loadgen::cli::Cli::parse();
    std::process::exit(nacore_loadgen::run(&cli));
}
