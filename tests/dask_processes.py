"""A dask scheduler and workers started as separate processes from the command line.

What a cluster of several machines runs (``dask scheduler --scheduler-file F`` and
``dask worker --scheduler-file F``), here on loopback: the cluster tests and the cluster
benchmark start it with :func:`dask_processes` and stop it, every process it started and only
those, when the block ends. Workers get one BLAS/OpenMP thread each and import this checkout
(``PYTHONPATH``), as the project's local cluster does.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class TlsFiles:
    """A test CA and one certificate signed by it, used by every process of the cluster."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def flags(self) -> list[str]:
        """``--tls-ca-file``, ``--tls-cert`` and ``--tls-key`` as dask's commands take them."""
        return ["--tls-ca-file", str(self.ca_file), "--tls-cert", str(self.cert_file),
                "--tls-key", str(self.key_file)]


@dataclass(frozen=True)
class DaskProcesses:
    """A running scheduler and its workers."""

    scheduler_file: Path
    address: str
    workers: int
    logs: Path

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of every process's log (for assertion messages)."""
        out = []
        for log in sorted(self.logs.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)


def make_tls_files(folder: Path) -> TlsFiles | None:
    """A CA and a certificate for ``127.0.0.1`` signed by it (``openssl``), or ``None``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "node.key",
                                                       "node.csr", "node.pem"))
    ext = folder / "node.ext"
    ext.write_text("subjectAltName = IP:127.0.0.1\n")
    for cmd in ([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", "/CN=evflex-test-ca", "-keyout", str(ca_key), "-out", str(ca)],
                [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                 "-keyout", str(key), "-out", str(csr)],
                [openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey",
                 str(ca_key), "-CAcreateserial", "-days", "2", "-extfile", str(ext),
                 "-out", str(cert)]):
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return TlsFiles(ca_file=ca, cert_file=cert, key_file=key)


def _dask_command() -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "dask"]


def worker_env() -> dict[str, str]:
    """The environment of the scheduler and worker processes: one BLAS thread, this checkout."""
    env = dict(os.environ)
    env.update({v: "1" for v in THREAD_VARS})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM to each started process group (a nanny and its worker), SIGKILL after 20 s."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 20.0
    for p in procs:
        try:
            p.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            pass
        try:  # the group may hold a worker whose nanny is gone
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


@contextmanager
def dask_processes(folder: Path, workers: int, tls: TlsFiles | None = None,
                   cwd: Path | None = None) -> Iterator[DaskProcesses]:
    """Start ``dask scheduler`` and ``workers`` × ``dask worker`` (one process, one thread each).

    Args:
        folder: Where the scheduler file and the logs go.
        workers: Worker processes.
        tls: Certificates: the scheduler listens on ``tls://`` and requires them.
        cwd: Working directory of the processes (default: ``folder``).

    Yields:
        The cluster, once every worker has joined the scheduler.
    """
    from dask.distributed import Client

    folder.mkdir(parents=True, exist_ok=True)
    logs = folder / "logs"
    logs.mkdir(exist_ok=True)
    sched_file = folder / "scheduler.json"
    sched_file.unlink(missing_ok=True)
    tls_flags = tls.flags() if tls is not None else []
    dask = _dask_command()
    env = worker_env()
    procs: list[subprocess.Popen] = []

    def start(name: str, args: list[str]) -> None:
        with open(logs / f"{name}.log", "w") as log:
            procs.append(subprocess.Popen([*dask, *args], cwd=cwd or folder, env=env,
                                          stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True))

    try:
        start("scheduler", ["scheduler", "--scheduler-file", str(sched_file), "--host",
                            "127.0.0.1", "--port", "0", "--no-dashboard",
                            *(["--protocol", "tls"] if tls is not None else []), *tls_flags])
        deadline = time.monotonic() + START_TIMEOUT_S
        address = None
        while address is None:
            if procs[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dask scheduler did not start:\n"
                                   + (logs / "scheduler.log").read_text())
            try:
                address = json.loads(sched_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        for i in range(workers):
            start(f"worker{i}", ["worker", "--scheduler-file", str(sched_file), "--nworkers",
                                 "1", "--nthreads", "1", "--host", "127.0.0.1",
                                 "--no-dashboard", "--name", f"w{i}", "--death-timeout", "60",
                                 "--local-directory", str(folder / "scratch"), *tls_flags])
        cluster = DaskProcesses(scheduler_file=sched_file, address=address, workers=workers,
                                logs=logs)
        security = None
        if tls is not None:
            from distributed import Security

            security = Security(tls_ca_file=str(tls.ca_file), tls_client_cert=str(tls.cert_file),
                                tls_client_key=str(tls.key_file), require_encryption=True)
        with Client(address, security=security, timeout="30s") as client:
            try:
                client.wait_for_workers(workers, timeout=START_TIMEOUT_S)
            except TimeoutError:
                raise RuntimeError("dask workers did not join:\n" + cluster.log_tail()) \
                    from None
        yield cluster
    finally:
        _stop(procs)


def default_sigint() -> None:
    """``preexec_fn`` of a command a test interrupts: in the child, Ctrl-C is handled as a
    terminal user's is. A test runner started in the background by a non-interactive shell
    has SIGINT ignored, its children inherit that, and Python then installs no
    ``KeyboardInterrupt`` handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
