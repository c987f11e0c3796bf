//! Version 1 of the `hello` plugin (hot-swap tests).
const VERSION: &str = "1.0.0";
include!("../../hello.rs");
