// Shared body of the hello plugins: answers with its version, so a test can tell which
// version served a call.
use tributary_sdk::prelude::*;

#[derive(Default)]
struct Hello;

impl Provider for Hello {
    fn manifest() -> Manifest {
        ManifestBuilder::new("hello", "Hello").version(VERSION).build()
    }

    fn list(&mut self, _config: &Config, _req: ListRequest) -> Result<Page, Error> {
        let content = Content::text("greeting", "note", VERSION, "hello");
        Ok(Page::last(vec![Resource::with_content(content)]))
    }

    fn fetch(&mut self, _config: &Config, id: &str) -> Result<Content, Error> {
        Ok(Content::text(id, "note", VERSION, "hello"))
    }
}

tributary_sdk::export!(Hello);
