//! Generates the C header from src/ffi with cbindgen into OUT_DIR. The committed copy in
//! include/ is compared with it by a test (so drift fails `make test`), and `make header`
//! (PWA_UPDATE_HEADER=1) writes it into include/.
//!
//! Two facts are written once in data files that the library includes too, and rendered into
//! the header here: the status codes (`src/ffi/status_table.rs`, cbindgen does not expand the
//! macro that defines them) and the configuration keys (`src/config/key_specs.rs`).

use std::fmt::Write as _;
use std::path::PathBuf;

/// The build script's reading of `status_table.rs`: (name, code, doc lines).
macro_rules! statuses {
    ($($(#[doc = $doc:literal])* $name:ident = $code:literal, $text:literal;)*) => {
        const STATUSES: &[(&str, i32, &[&str])] = &[$((stringify!($name), $code, &[$($doc),*]),)*];
    };
}
include!("src/ffi/status_table.rs");

#[allow(dead_code)]
mod keys {
    include!("src/config/key_specs.rs");
}

/// A doxygen block as cbindgen writes them.
fn doc_block(out: &mut String, lines: &[&str]) {
    out.push_str("/**\n");
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() {
            out.push_str(" *\n");
        } else {
            let _ = writeln!(
                out,
                " *{}{line}",
                if line.starts_with(' ') { "" } else { " " }
            );
        }
    }
    out.push_str(" */\n");
}

/// Words wrapped to `width` columns, for the header's comments.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

fn generated_part() -> String {
    let mut out = String::new();
    out.push_str("\n/* Status codes (src/ffi/status_table.rs). */\n\n");
    for (name, code, doc) in STATUSES {
        doc_block(&mut out, doc);
        let _ = writeln!(out, "#define {name} {code}\n");
    }
    out.push_str(
        "/*\n * Configuration keys of pwa_config_set / pwa_config_get (src/config/key_specs.rs).\n",
    );
    out.push_str(
        " * Each: name (kind; default) and what it does. Durations are seconds and may have a\n",
    );
    out.push_str(
        " * fraction (\"0.25\"); booleans are true/false (also 1/0, yes/no, on/off).\n *\n",
    );
    for k in keys::KEY_SPECS {
        let default = if k.default.is_empty() {
            "none"
        } else {
            k.default
        };
        let text = format!("- {} ({}; default {}): {}", k.name, k.kind, default, k.doc);
        for (i, line) in wrap(&text, 92).iter().enumerate() {
            let _ = writeln!(out, " * {}{line}", if i == 0 { "" } else { "  " });
        }
    }
    out.push_str(" */\n");
    out
}

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=src/config/key_specs.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=PWA_UPDATE_HEADER");
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("piwebasync.h");
    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    config.after_includes = Some(generated_part());
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
