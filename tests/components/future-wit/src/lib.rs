//! A component built against `tributary:provider@9.0.0`, which the host must refuse.
wit_bindgen::generate!({ path: "wit", world: "plugin" });

struct Future;

impl exports::tributary::provider::provider::Guest for Future {
    fn manifest() -> String {
        "from the future".into()
    }
}

export!(Future);
