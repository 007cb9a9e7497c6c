// hybridc embeds its runtime, templates, targets and kernel sources
// (src/files.rs): rebuild when any of them changes.
fn main() {
    for dir in ["../../runtime-c", "../../templates", "../../targets", "../kernels/src"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
