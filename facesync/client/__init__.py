"""The Face REST client: endpoint resolution, retries, rate limit, typed responses."""

from facesync.client.client import FaceClient, RetryPolicy
from facesync.client.endpoint import Endpoint, require_key, resolve_endpoint
from facesync.client.errors import (
    EndpointError,
    FaceAPIError,
    FaceClientError,
    ServiceUnreachable,
    UnexpectedResponse,
)

__all__ = [
    "Endpoint",
    "EndpointError",
    "FaceAPIError",
    "FaceClient",
    "FaceClientError",
    "RetryPolicy",
    "ServiceUnreachable",
    "UnexpectedResponse",
    "require_key",
    "resolve_endpoint",
]
