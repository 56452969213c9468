"""Errors raised by the Face client. None of them carries a secret or a raw control character:
everything taken from the service (messages, codes, request ids, locations) is cleaned with
`facesync.secrets.clean` when the error is made, so any caller may print it as it is."""

from __future__ import annotations

from facesync.secrets import clean


class FaceClientError(Exception):
    """Base class for every error the client raises."""


class EndpointError(FaceClientError):
    """No usable endpoint was given, or it is malformed (its text may come from a variable)."""

    def __init__(self, message: str) -> None:
        super().__init__(clean(message))


class AuthError(FaceClientError):
    """No credential could be had for the endpoint (nothing was sent)."""

    def __init__(self, host: str, cause: str) -> None:
        self.host = host
        self.cause = clean(cause)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"cannot get a Microsoft Entra ID token for {self.host}: {self.cause}; nothing was sent"


class UnexpectedResponse(FaceClientError):
    """The endpoint answered, but not like a Face API: HTML, a redirect, JSON of the wrong shape,
    or an answer larger or deeper than any Face API answer.

    Never taken as an empty answer: a wrong endpoint must not look like an empty resource.
    """

    def __init__(self, op: str, method: str, path: str, problem: str) -> None:
        self.op = op
        self.method = method
        self.path = clean(path)
        self.problem = clean(problem)
        super().__init__(f"{op} ({method} {self.path}): {self.problem}")


class FaceAPIError(FaceClientError):
    """The service answered with an error (after any retries), or did not answer in time.

    `uncertain` is true when the request may have been carried out although it failed
    (a timeout, a lost connection or a 5xx on a call that creates something): the caller must
    look before it retries, or it may create a duplicate.
    """

    def __init__(
        self,
        *,
        status: int | None,
        code: str | None,
        message: str,
        method: str,
        path: str,
        request_id: str | None = None,
        uncertain: bool = False,
    ) -> None:
        self.status = status
        self.code = clean(code) if code is not None else None
        self.message = clean(message)
        self.method = method
        self.path = clean(path)
        self.request_id = clean(request_id) if request_id is not None else None
        self.uncertain = uncertain
        super().__init__(str(self))

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        code = f" {self.code}" if self.code else ""
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.method} {self.path}: {status}{code}: {self.message}{rid}"

    @property
    def not_found(self) -> bool:
        return self.status == 404 and (self.code or "").endswith("NotFound")


class ServiceUnreachable(FaceClientError):
    """No connection could be made (nothing was sent): the host, and why, in one line."""

    def __init__(self, host: str, cause: str, attempts: int) -> None:
        self.host = host
        self.cause = clean(cause)
        self.attempts = attempts
        super().__init__(str(self))

    def __str__(self) -> str:
        tries = f" (tried {self.attempts} times)" if self.attempts > 1 else ""
        return f"cannot connect to {self.host}: {self.cause}{tries}"
