//! Where the engine reads a provider from: a plugin [`Session`] in production; anything
//! else that speaks the same two calls (a natively compiled provider in the throughput
//! benchmark).

use futures::future::BoxFuture;

use crate::model::{Content, ListRequest, Page};
use crate::runtime::{CallError, Session};

/// The calls a sync walk makes.
pub trait Source: Send {
    /// One page of the listing.
    fn list<'a>(&'a mut self, req: &'a ListRequest) -> BoxFuture<'a, Result<Page, CallError>>;
    /// One resource's content.
    fn fetch<'a>(&'a mut self, id: &'a str) -> BoxFuture<'a, Result<Content, CallError>>;
    /// Start afresh after a call crashed the source (a plugin instance a trap left
    /// unusable); sources that cannot crash need nothing.
    fn restart(&mut self) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(async { Ok(()) })
    }
}

impl Source for Session {
    fn list<'a>(&'a mut self, req: &'a ListRequest) -> BoxFuture<'a, Result<Page, CallError>> {
        Box::pin(Session::list(self, req))
    }

    fn fetch<'a>(&'a mut self, id: &'a str) -> BoxFuture<'a, Result<Content, CallError>> {
        Box::pin(Session::fetch(self, id))
    }

    fn restart(&mut self) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(Session::restart(self))
    }
}
