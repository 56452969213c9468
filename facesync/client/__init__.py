"""The Face REST client: endpoint resolution, retries, rate limit, typed responses."""

from facesync.client.client import FaceClient, RetryPolicy
from facesync.client.endpoint import Endpoint, resolve_endpoint
from facesync.client.errors import EndpointError, FaceAPIError, FaceClientError, UnexpectedResponse

__all__ = [
    "Endpoint",
    "EndpointError",
    "FaceAPIError",
    "FaceClient",
    "FaceClientError",
    "RetryPolicy",
    "UnexpectedResponse",
    "resolve_endpoint",
]
