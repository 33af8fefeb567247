//! Placeholder for the gRPC scenarios (Nacos 2.x SDK protocol, nacos-protocol.md §3). They
//! need a gRPC client of the Nacos `Request`/`BiRequestStream` services, which arrives with the
//! server's gRPC milestone; until then they stop with exit status 2.

use crate::scenario::Scenario;

/// Exit status for a scenario that exists in the CLI but is not implemented yet.
pub const NOT_IMPLEMENTED_EXIT_CODE: i32 = 2;

/// Runs a gRPC scenario. Today: prints why it cannot, and returns the exit status.
pub fn run(scenario: Scenario) -> i32 {
    debug_assert!(scenario.is_grpc());
    eprintln!(
        "{}: not implemented yet: needs the gRPC protocol",
        scenario.name()
    );
    NOT_IMPLEMENTED_EXIT_CODE
}
