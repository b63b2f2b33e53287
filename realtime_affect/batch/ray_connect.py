"""Connect to Ray for ``affect-batch --ray [ADDRESS]`` and say in one line what went wrong when it fails.

- No address: a local Ray inside the command, on loopback, no dashboard.
- ``--ray ADDRESS``: join a running cluster (``ray start --head``, ``ray up``, KubeRay). A Ray 2.60 head started
  where a token exists (``~/.ray/auth_token``, ``RAY_AUTH_TOKEN``) requires token authentication, while a
  driver sends its token only with ``RAY_AUTH_MODE=token`` (and reads the mode once per process). So when
  ``RAY_AUTH_MODE`` is unset and a token is at hand where Ray looks for one (``RAY_AUTH_TOKEN``, the file named by
  ``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``: on the head node ``ray get-auth-token`` prints it), the
  driver sets ``RAY_AUTH_MODE=token`` before connecting; a cluster without authentication accepts such a
  driver too (measured with Ray 2.60).
- Nothing listening at ``HOST:PORT`` fails at once (Ray alone retries such an address for minutes), and Ray's
  own connection retries are bounded (``RAY_gcs_server_port_wait_time_s``, 5 unless set).
"""
from __future__ import annotations

import logging
import os
import platform
import sys

from realtime_affect.errors import SetupError

log = logging.getLogger(__name__)


class RayMissing(SetupError, RuntimeError):
    """Ray is not installed."""


class ClusterError(SetupError, RuntimeError):
    """The cluster cannot be used (unreachable, refused the token, other versions, package missing): one line."""


class ClusterLost(ClusterError):
    """The cluster went away during the run (its head node stopped answering)."""


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise RayMissing("--ray needs Ray: pip install 'realtime-affect[ray]'") from exc
    return ray


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it was raised from or during."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _text(exc: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}" for e in _chain(exc))


def is_auth_error(exc: BaseException) -> bool:
    return any(type(e).__name__ == "AuthenticationError" for e in _chain(exc)) or "InvalidAuthToken" in _text(exc)


def explain(exc: BaseException, address: str) -> str:
    """One line for a failed connection to the cluster at ``address``."""
    import ray

    text = _text(exc)
    if "Version mismatch" in text or "version mismatch" in text:
        detail = next((line.strip() for e in _chain(exc) for line in str(e).splitlines() if "started with" in line),
                      "")
        return (f"the Ray cluster at {address} runs other versions than this command (Ray {ray.__version__}, "
                f"Python {platform.python_version()}){': ' + detail if detail else ''}; install the cluster's Ray "
                f"and Python versions here, or run affect-batch on a node of the cluster")
    if is_auth_error(exc):
        source = token_source()
        fix = ("set RAY_AUTH_TOKEN to the cluster's token (`ray get-auth-token` prints it on the head node) or copy "
               "the head's ~/.ray/auth_token here")
        if source is None:
            return f"the Ray cluster at {address} requires an authentication token and none was found here: {fix}"
        return f"the Ray cluster at {address} refused the authentication token (from {source}): {fix}"
    return (f"cannot connect to a Ray cluster at {address}: nothing answered there as a Ray head node (check the "
            f"address and port that `ray start --head` printed, and that `ray status` works on the head)")


def probe(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast when nothing listens at a ``HOST:PORT`` address (Ray itself retries such an address for
    minutes); other forms (``auto``, ``ray://...``) are left to Ray."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ClusterError(f"cannot connect to a Ray cluster at {address}: {reason} (check the address and port that "
                           f"`ray start --head` printed, and that the head node is running)") from None


def token_source() -> str | None:
    """Where Ray would take this driver's token from (None: no token here)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return os.environ["RAY_AUTH_TOKEN_PATH"]
    default = os.path.expanduser("~/.ray/auth_token")
    return "~/.ray/auth_token" if os.path.isfile(default) else None


def quiet_ray(verbose: bool) -> None:
    """Keep Ray's own log lines (its C++ core's retries, its INFO lines) out of the user's terminal unless
    ``-v``: every failure the user must see becomes one line of ours. Set before Ray is imported."""
    if not verbose:
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        os.environ.setdefault("RAY_LOG_TO_STDERR", "0")


def connect(address: str | None, workers: int, verbose: bool = False) -> bool:
    """``ray.init`` for ``--ray [ADDRESS]``; True when this call started Ray (then shut it down when done).
    Raises ``ClusterError`` with one line when the cluster cannot be joined."""
    quiet_ray(verbose)
    level = logging.INFO if verbose else logging.ERROR
    if address:
        probe(address)
        # Ray reads these once, when it is imported: set them first
        if not os.environ.get("RAY_AUTH_MODE") and token_source() and "ray" not in sys.modules:
            os.environ["RAY_AUTH_MODE"] = "token"
        os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "5")
    import contextlib

    from realtime_affect.system.native_logs import quiet_native_stderr

    ray = import_ray()
    if ray.is_initialized():
        return False
    # Ray's C++ core writes its start-up lines (and, on a refused token, its retries) to fd 2 itself
    quiet = contextlib.nullcontext() if verbose else quiet_native_stderr()
    if not address:
        with quiet:
            ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False,
                     _node_ip_address="127.0.0.1", logging_level=level)
        return True
    try:
        with quiet:
            ray.init(address=address, log_to_driver=False, logging_level=level)
        return True
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        ray.shutdown()
        raise ClusterError(explain(exc, address)) from exc


def missing_package(exc: BaseException) -> str | None:
    """The one line to show when a task failed because a node lacks this package (None otherwise)."""
    text = _text(exc)
    if "No module named 'realtime_affect'" in text or 'No module named "realtime_affect"' in text:
        from realtime_affect import __version__

        return (f"the Ray workers cannot import realtime_affect: install realtime-affect[ray] {__version__} (the "
                f"version here) on every node of the cluster")
    return None


__all__ = ["RayMissing", "ClusterError", "ClusterLost", "quiet_ray", "import_ray", "connect", "probe", "token_source", "explain", "is_auth_error", "missing_package"]
