//! Documents generated from the library's tables stay equal to them (`make header` rewrites
//! them): README.md's table of configuration keys, from `KEY_SPECS`.

mod common;

use piwebasync::KEY_SPECS;

/// README.md's table of keys between its markers is the table's.
#[test]
fn readme_config_table_is_current() {
    let mut wanted = String::from("| key | kind | default | what it does |\n|---|---|---|---|\n");
    for k in KEY_SPECS {
        let default = if k.default.is_empty() {
            "none"
        } else {
            k.default
        };
        wanted += &format!(
            "| `{}` | {} | {} | {} |\n",
            k.name,
            k.kind,
            default,
            k.doc.replace('|', "\\|")
        );
    }
    common::generated_section_is_current(
        concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"),
        "<!-- config-keys:begin (generated from src/config/key_specs.rs by `make header`) -->\n",
        "<!-- config-keys:end -->",
        &wanted,
        "the table of configuration keys",
    );
}
