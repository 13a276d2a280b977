//! Generates the C header from capi/src with cbindgen into OUT_DIR. The committed copy in
//! include/ is compared with it by a test (so drift fails `make test`), and `make header`
//! (PWA_UPDATE_HEADER=1) writes it into include/.
//!
//! Two facts are written once in data files that the library includes too, and rendered into
//! the header here: the status codes (`capi/src/status_table.rs`, cbindgen does not expand the
//! macro that defines them) and the configuration keys (`src/config/key_specs.rs` of the Rust crate).

use std::fmt::Write as _;
use std::path::PathBuf;

/// The build script's reading of `status_table.rs`: (name, code, doc lines).
macro_rules! statuses {
    ($($(#[doc = $doc:literal])* $name:ident = $code:literal, $text:literal;)*) => {
        const STATUSES: &[(&str, i32, &[&str])] = &[$((stringify!($name), $code, &[$($doc),*]),)*];
    };
}
include!("src/status_table.rs");

#[allow(dead_code)]
mod keys {
    include!("../src/config/key_specs.rs");
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
    out.push_str("\n/* Status codes (capi/src/status_table.rs). */\n\n");
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
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=../src/config/key_specs.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=PWA_UPDATE_HEADER");
    println!("cargo:rerun-if-changed=../Cargo.toml");
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("piwebasync.h");
    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    // The version macros come from Cargo.toml's version, its one place (capi/src/version.rs).
    let mut after = format!("\n{}", config.after_includes.take().unwrap_or_default());
    for (macro_name, var, doc) in [
        (
            "PWA_VERSION_MAJOR",
            "CARGO_PKG_VERSION_MAJOR",
            "Major version of the library this header belongs to.",
        ),
        (
            "PWA_VERSION_MINOR",
            "CARGO_PKG_VERSION_MINOR",
            "Minor version.",
        ),
        (
            "PWA_VERSION_PATCH",
            "CARGO_PKG_VERSION_PATCH",
            "Patch version.",
        ),
    ] {
        let n = std::env::var(var).unwrap();
        after.push_str(&format!("\n/**\n * {doc}\n */\n#define {macro_name} {n}\n"));
    }
    after.push_str(&generated_part());
    config.after_includes = Some(after.trim_end().to_string());
    // Only this crate is scanned (cbindgen follows its `mod` items): the header is the C ABI.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen could not generate the header");
    let mut text = Vec::new();
    bindings.write(&mut text);
    let text = c89_comments(&String::from_utf8(text).expect("cbindgen wrote UTF-8"));
    write_if_changed(&out, &text);
    if std::env::var_os("PWA_UPDATE_HEADER").is_some() {
        write_if_changed(&crate_dir.join("../include/piwebasync.h"), &text);
    }
}

/// cbindgen's C++ guards end in `// ...` comments (`}  // extern "C"`, `#endif  // __cplusplus`),
/// which C89 does not have (`-std=c89 -pedantic` rejects them). Every line comment outside the
/// doc blocks is turned into a block comment, so the header compiles as C89, C99 and C++.
fn c89_comments(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    for line in header.lines() {
        match line.find("//") {
            // Not inside a `/* */` block (those lines start with ` *` or `/*`) and not in a string.
            Some(i)
                if !line.trim_start().starts_with('*')
                    && !line.trim_start().starts_with("/*")
                    && !line[..i].contains('"') =>
            {
                let comment = line[i + 2..].trim();
                assert!(
                    !comment.contains("*/"),
                    "cannot convert to a block comment: {line}"
                );
                out.push_str(line[..i].trim_end());
                out.push_str("  /* ");
                out.push_str(comment);
                out.push_str(" */");
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

fn write_if_changed(path: &std::path::Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}
