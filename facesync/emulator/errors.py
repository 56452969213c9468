"""Face API error envelopes and the service's error wording."""

from __future__ import annotations

# kind -> (code prefix, label in messages, path parameter name)
KINDS: dict[str, tuple[str, str, str]] = {
    "pg": ("PersonGroup", "Person group", "personGroupId"),
    "lpg": ("LargePersonGroup", "Large person group", "largePersonGroupId"),
    "fl": ("FaceList", "Face list", "faceListId"),
    "lfl": ("LargeFaceList", "Large face list", "largeFaceListId"),
    "dpg": ("DynamicPersonGroup", "Dynamic person group", "dynamicPersonGroupId"),
}

ACCESS_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your resource."
)


class ApiError(Exception):
    """An error answered as `{"error": {"code", "message"}}`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        # The exact body, for the few answers the service does not shape as {"error": ...}.
        self.raw_body = raw_body

    def __reduce__(self) -> tuple[type[ApiError], tuple[int, str, str, dict[str, str], bytes | None]]:
        # Recognition runs in worker processes: their errors come back pickled, intact.
        return (ApiError, (self.status, self.code, self.message, self.headers, self.raw_body))


def bad_argument(message: str) -> ApiError:
    return ApiError(400, "BadArgument", message)


def invalid_image(message: str) -> ApiError:
    return ApiError(400, "InvalidImage", message)


def invalid_image_size(message: str) -> ApiError:
    return ApiError(400, "InvalidImageSize", message)


def invalid_url(message: str = "Invalid image URL.") -> ApiError:
    return ApiError(400, "InvalidURL", message)


def quota(message: str) -> ApiError:
    return ApiError(403, "QuotaExceeded", message)


def not_found(kind: str) -> ApiError:
    code, label, param = KINDS[kind]
    return ApiError(404, f"{code}NotFound", f"{label} is not found.\r\nParameter name: {param}")


def invalid_id(kind: str) -> ApiError:
    code, label, _ = KINDS[kind]
    return ApiError(404, f"{code}NotFound", f"{label} ID is invalid.")


def person_not_found() -> ApiError:
    return ApiError(404, "PersonNotFound", "Person is not found.\r\nParameter name: personId")


def face_not_found() -> ApiError:
    return ApiError(
        404, "PersistedFaceNotFound", "Persisted face is not found.\r\nParameter name: persistedFaceId"
    )


def exists(kind: str) -> ApiError:
    code, label, _ = KINDS[kind]
    return ApiError(409, f"{code}Exists", f"{label} already exists.")


def not_trained(kind: str) -> ApiError:
    code, label, _ = KINDS[kind]
    return ApiError(404, f"{code}NotTrained", f"{label} not trained.")


def training_not_finished(kind: str) -> ApiError:
    code, label, _ = KINDS[kind]
    return ApiError(409, f"{code}TrainingNotFinished", f"{label} is under training.")
