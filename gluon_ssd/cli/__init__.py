"""The command line: ``gluon-ssd COMMAND`` (:mod:`.main`), one module per command, and what they
share: one-line user errors and exit codes (:mod:`.runner`), ``--ctx`` (:mod:`.context`) and the
detector-source options (:mod:`.args`)."""
from ..utils.lazy import lazy_exports
from .runner import EXIT_USER_ERROR, USER_ERRORS, error_line, run

_EXPORTS = {"parse_ctx": ".context"}
__all__ = ["USER_ERRORS", "EXIT_USER_ERROR", "run", "error_line", "parse_ctx"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
