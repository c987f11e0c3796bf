//! Version 2 of the `hello` plugin (hot-swap tests).
const VERSION: &str = "2.0.0";
include!("../../hello.rs");
