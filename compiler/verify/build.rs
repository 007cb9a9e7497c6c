// Records the host triple so `hybridc run` can ask the cc crate for the
// host C compiler at run time.
fn main() {
    println!("cargo:rustc-env=HYBRIDC_HOST_TRIPLE={}", std::env::var("TARGET").unwrap());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=askama.toml");
}
