//! The one JSON error shape of the API: `{"error": {"code", "message", "field"?}}`.
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use klaxon_domain::Invalid;
use klaxon_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `invalid_field` or `not_found`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The input field to blame, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict {
        message: String,
        field: Option<String>,
    },
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Says which limit: the API's setting, or the ingest routes' own.
    #[error("request body is larger than {0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// A domain refusal becomes the 4xx that names its field.
impl From<klaxon_domain::incident::Refusal> for ApiError {
    fn from(r: klaxon_domain::incident::Refusal) -> Self {
        use klaxon_domain::incident::Refusal;
        match r {
            Refusal::Invalid(i) => ApiError::invalid(i.field, i.reason),
            Refusal::Conflict { field, reason } => ApiError::Conflict {
                message: format!("{field}: {reason}"),
                field: Some(field),
            },
            Refusal::Forbidden(m) => ApiError::Forbidden(m),
            Refusal::NotFound(what) => ApiError::not_found(what),
        }
    }
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let field = field.into();
        let reason = reason.into();
        Self::BadRequest {
            code: "invalid_field",
            message: format!("{field}: {reason}"),
            field: Some(field),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    /// Maps a store error, naming `what` when it is a `NotFound`.
    pub fn or_not_found(what: &'static str) -> impl Fn(StoreError) -> Self {
        move |e| {
            if e.is_not_found() {
                Self::not_found(what)
            } else {
                e.into()
            }
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } => code,
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    pub fn body(&self) -> ErrorBody {
        let field = match self {
            Self::BadRequest { field, .. } | Self::Conflict { field, .. } => field.clone(),
            _ => None,
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
                field,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            // The cause goes to the log, inside the request's span; the caller gets no details.
            Self::Internal(e) => tracing::error!(error = ?e, "internal error"),
            Self::Unavailable(e) => {
                if let Some(held_back) = klaxon_store::repeats::allow("unavailable") {
                    tracing::warn!(error = %e, held_back, "unavailable");
                }
            }
            _ => {}
        }
        let status = self.status();
        let mut resp = (status, Json(self.body())).into_response();
        match &self {
            Self::Unauthorized(_) => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TooManyRequests { retry_after_secs } => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        resp
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        Self::invalid(e.field, e.reason)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::Conflict { constraint } => {
                // Unique indexes are named <table>_<column>: the column is the field to blame.
                let field = constraint.split_once('_').map(|(_, col)| col.to_owned());
                Self::Conflict {
                    message: match &field {
                        Some(f) => format!("{f}: already in use"),
                        None => "conflicts with an existing record".into(),
                    },
                    field,
                }
            }
            StoreError::Unavailable(inner) => Self::Unavailable(inner.to_string()),
            StoreError::Other(inner) => Self::Internal(anyhow::anyhow!(inner)),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
