"""WSGI app for the metrics end-to-end tests (worker_memory.sh, saturation.sh): a worker
that leaks on purpose, a slow view that keeps sync workers busy, and a cheap one."""
import os
import time

# Only the worker that won /claim leaks: requests land on either worker, and the test must
# know which one grows. CLAIM_FILE is created by exactly one of them (O_EXCL).
_LEAKED = []


def _respond(start_response, body):
    data = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


def _claimed_pid():
    try:
        with open(os.environ["CLAIM_FILE"]) as claim:
            return int(claim.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/claim":
        try:
            fd = os.open(os.environ["CLAIM_FILE"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
        except FileExistsError:
            pass
        return _respond(start_response, "leaker %d\n" % _claimed_pid())
    if path == "/leak":
        # Every worker allocates here (one allocation site, so that the leak suspects can
        # compare workers); only the claimed one keeps the block. b"x" * n writes every
        # byte, so the pages are resident (zeroed memory may not be).
        block = b"x" * (1 << 20)
        if os.getpid() == _claimed_pid():
            _LEAKED.append(block)
            return _respond(start_response, "leaked %d\n" % len(_LEAKED))
        return _respond(start_response, "skipped\n")
    if path == "/nap":
        time.sleep(0.2)
        return _respond(start_response, "rested %d\n" % os.getpid())
    if path == "/slow":
        time.sleep(0.5)
        return _respond(start_response, "slow\n")
    return _respond(start_response, "ok\n")
