"""Typed exceptions raised by the Enclave client.

Every error the daemon reports carries a Connect code (``permission_denied``,
``not_found``, ...) and a message; the client maps the codes it knows to the
subclasses below and raises :class:`EnclaveError` for the rest.
"""
from typing import List, Optional

__all__ = [
    "EnclaveError",
    "PolicyDenied",
    "SessionNotFound",
    "Timeout",
    "Unauthenticated",
    "Unavailable",
    "InvalidArgument",
    "error_from_code",
]

_DENIED_PREFIX = "denied by policy: "


class EnclaveError(Exception):
    """An error reported by the daemon or met on the way to it.

    Attributes:
        code: the Connect error code (``"internal"``, ``"not_found"``, ...),
            or ``"unavailable"`` when the daemon could not be reached.
        message: the daemon's message, as it sent it.
        status: the HTTP status of the answer, or None.
    """

    def __init__(self, message: str, code: str = "unknown", status: Optional[int] = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class PolicyDenied(EnclaveError):
    """The policy refused the action.

    Attributes:
        reasons: the policy's reasons, one string each (what the Rego policy's
            ``deny`` rules said), so that an agent can adapt its next request.
    """

    def __init__(self, message: str, code: str = "permission_denied", status: Optional[int] = None) -> None:
        super().__init__(message, code, status)
        text = message[len(_DENIED_PREFIX):] if message.startswith(_DENIED_PREFIX) else message
        self.reasons: List[str] = [r.strip() for r in text.split("; ") if r.strip()]


class SessionNotFound(EnclaveError):
    """No session (or no file) by that name: it was stopped, timed out or never existed."""


class Timeout(EnclaveError):
    """A deadline passed: the daemon's (``deadline_exceeded``) or the client's socket timeout."""


class Unauthenticated(EnclaveError):
    """The daemon refused the token (wrong, missing, or not readable from ``$ENCLAVE_HOME``)."""


class Unavailable(EnclaveError):
    """The daemon cannot be reached, is stopping, or the guest is reconnecting."""


class InvalidArgument(EnclaveError):
    """The request was malformed or a value was out of range."""


_BY_CODE = {
    "permission_denied": PolicyDenied,
    "not_found": SessionNotFound,
    "deadline_exceeded": Timeout,
    "unauthenticated": Unauthenticated,
    "unavailable": Unavailable,
    "invalid_argument": InvalidArgument,
}


def error_from_code(code: str, message: str, status: Optional[int] = None) -> EnclaveError:
    """The exception for a Connect error code and message."""
    cls = _BY_CODE.get(code, EnclaveError)
    return cls(message, code, status)
