//! Generates the C header from src/ffi with cbindgen into OUT_DIR. The committed copy in
//! include/ is compared with it by a test (so drift fails `make test`), and `make header`
//! (PWA_UPDATE_HEADER=1) writes it into include/.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=PWA_UPDATE_HEADER");
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("piwebasync.h");
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    // Only src/ffi is scanned (cbindgen follows its `mod` items): the header is the C ABI.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen could not generate the header");
    bindings.write_to_file(&out);
    if std::env::var_os("PWA_UPDATE_HEADER").is_some() {
        bindings.write_to_file(crate_dir.join("include/piwebasync.h"));
    }
}
