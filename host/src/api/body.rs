//! The request-body extractor every handler uses: size-limited, and its failures in
//! the API's error shape rather than axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};

use super::{ApiError, MAX_BODY};

/// The raw body, at most [`MAX_BODY`] bytes.
pub struct Payload(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::TooLarge(MAX_BODY))?;
        Ok(Payload(body))
    }
}

impl std::ops::Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}
