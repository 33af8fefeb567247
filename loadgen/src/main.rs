//! nacore-loadgen: placeholder. The load generator arrives with the loadgen issue.

fn main() {
    eprintln!("nacore-loadgen is not built yet; see the loadgen issue");
    std::process::exit(2);
}
