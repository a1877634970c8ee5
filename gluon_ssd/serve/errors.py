"""The service's one error type: an HTTP status, a message naming the problem, headers."""

__all__ = ["ServeError"]


class ServeError(Exception):
    """A request the service answers with ``status`` and ``{"detail": message}``.

    Parameters
    ----------
    status : int
        HTTP status (4xx: the request's fault; 5xx: the service's, which stays up).
    message : str
        What was wrong and what to do, one line.
    headers : dict, optional
        E.g. ``{"Retry-After": "1"}`` with a 503.
    """

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = int(status)
        self.message = message
        self.headers = dict(headers or {})
