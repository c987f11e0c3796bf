//! Builds the guest workspaces (first-party plugins in `plugins/`, test components in
//! `tests/components/`) for `wasm32-wasip2` before the host compiles, the wasmtime
//! `test-programs` way: a separate target dir under `OUT_DIR`, rebuilt when their sources,
//! the SDK or the WIT change. First-party plugins are embedded in the binary; test
//! components are exposed to tests as `TRIBUTARY_COMPONENT_<NAME>` paths.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let host_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = host_dir
        .parent()
        .expect("host/ lives in the workspace root")
        .to_path_buf();
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    for dep in ["plugins", "tests/components", "sdk", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(dep).display());
    }
    // `sqlx::migrate!` embeds the migrations but does not watch the directory for new files.
    println!(
        "cargo:rerun-if-changed={}",
        root.join("migrations").display()
    );
    println!("cargo:rerun-if-changed=build.rs");

    ensure_target();
    let plugins = build_workspace(&root.join("plugins"), &out.join("plugins-target"));
    let components = build_workspace(
        &root.join("tests/components"),
        &out.join("components-target"),
    );

    let mut bundled = String::from(
        "/// `(file name, bytes)` of every first-party plugin.\npub const BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in &plugins {
        bundled.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            format!("{name}.wasm"),
            path
        ));
    }
    bundled.push_str("];\n");
    std::fs::write(out.join("bundled.rs"), bundled).expect("writing bundled.rs");

    for (name, path) in &components {
        println!(
            "cargo:rustc-env=TRIBUTARY_COMPONENT_{}={}",
            name.to_uppercase(),
            path.display()
        );
    }
    for (name, path) in &plugins {
        println!(
            "cargo:rustc-env=TRIBUTARY_PLUGIN_{}={}",
            name.to_uppercase(),
            path.display()
        );
    }
}

/// Install the guest target when missing (automatic installs are off on CI machines).
fn ensure_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if libdir.is_some_and(|d| d.join("libstd").exists() || has_std(&d)) {
        return;
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(s) if s.success() => {}
        _ => panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed; install it and rebuild"
        ),
    }
}

fn has_std(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
        })
        .unwrap_or(false)
}

/// Build a guest workspace; returns `(crate name, .wasm path)` of each component.
fn build_workspace(dir: &Path, target_dir: &Path) -> Vec<(String, PathBuf)> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(dir)
        .args(["build", "--release", "--workspace", "--target", TARGET])
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("running cargo for the guest workspace");
    assert!(
        status.success(),
        "building {} for {TARGET} failed",
        dir.display()
    );
    let release = target_dir.join(TARGET).join("release");
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&release)
        .expect("guest release dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    found.sort();
    found
}
