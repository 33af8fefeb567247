//! Generates the Rust types of `proto/*.proto` with prost, compiling the protos with protox so
//! that no system `protoc` is needed: `cargo build` works on a bare machine.

fn main() {
    let protos = ["proto/nacos_grpc_service.proto", "proto/cluster.proto"];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = match protox::compile(protos, ["proto"]) {
        Ok(descriptors) => descriptors,
        Err(error) => panic!("cannot compile the protos: {error}"),
    };
    let mut config = prost_build::Config::new();
    if let Err(error) = config.compile_fds(descriptors) {
        panic!("cannot generate Rust code from the protos: {error}");
    }
}
