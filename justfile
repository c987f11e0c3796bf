# Everyday recipes. The README's two commands need none of this.

# Serve on localhost with the embedded defaults.
serve:
    cargo run --release -- serve

# Everything CI runs.
ci:
    bash .ci/run

# The test suite.
test:
    cargo test --workspace

# Runtime benchmarks (instantiate+call, Substack 10k-entry sync).
bench:
    cargo bench -p tributary --bench runtime

# Format all three workspaces.
fmt:
    cargo fmt --all
    cd plugins && cargo fmt --all
    cd tests/components && cargo fmt --all

# Build the first-party plugins alone (the host build does this itself).
plugins:
    cd plugins && cargo build --release --target wasm32-wasip2
