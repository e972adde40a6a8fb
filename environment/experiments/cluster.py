"""The dask cluster the experiments run on: a local process cluster (started in the
background if asked, its workers warmed up) or an existing scheduler, whose workers are checked
to share the output folder and run the same code (``Cluster.check_workers``).
"""

from __future__ import annotations

import os
import queue
import secrets
import socket
import threading
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from environment.experiments.scheduler_link import SchedulerLink
from scenarios.errors import InputError

if TYPE_CHECKING:
    from distributed import Client, Future, LocalCluster

T = TypeVar("T")
R = TypeVar("R")


LOCAL_WORKER_CONFIG: dict[str, object] = {
    # dask spawns its workers with MALLOC_TRIM_THRESHOLD_=65536 (to hand freed memory back in
    # long-lived workers); setting the threshold switches off glibc's adaptive mmap threshold,
    # so every large NumPy temporary is a fresh mmap and its page faults. Our workers live for
    # one command: unset it (None removes the variable) -- the equilibria run ~12 % faster.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # the workers' statistical profiler only feeds the dashboard, which is off
    "distributed.worker.profile.enabled": False,
}


class Cluster:
    """A dask client on a local process cluster (loopback) or an existing scheduler.

    Args:
        workers: Worker processes of the local cluster (one thread each).
        scheduler: An existing scheduler instead: its checked link
            (:func:`environment.experiments.scheduler_link.scheduler_link`, with TLS) or a
            plain ``tcp://host:port`` address.
        warm: Run once on every worker as soon as it is up (e.g. the imports the first task
            needs), so the first tasks do not pay that part of the workers' cold start.
        background: Start the cluster (and ``warm``) on a thread and return at once, so this
            process can work meanwhile; :attr:`client` waits for it (and raises its error).

    Raises:
        InputError: The scheduler cannot be reached, or no worker joined it within
            ``WORKER_WAIT_S`` seconds (from :attr:`client` when started in the background).
    """

    WORKER_WAIT_S = 10.0

    def __init__(self, workers: int = 1, scheduler: SchedulerLink | str | None = None,
                 warm: Callable[[], object] | None = None, background: bool = False) -> None:
        self.cluster: LocalCluster | None = None
        if isinstance(scheduler, str) and scheduler:
            scheduler = SchedulerLink(address=scheduler, source="--scheduler")
        self.link = scheduler or None
        self._client: Client | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._start_catching, args=(workers, warm),
                                            name="cluster-start", daemon=True)
            self._thread.start()
        else:
            self._start(workers, warm)

    @classmethod
    def of_client(cls, client: Client, link: SchedulerLink | None = None) -> Cluster:
        """A ``Cluster`` around a client connected elsewhere (e.g. to ``link``'s scheduler)."""
        out = cls.__new__(cls)
        out.cluster, out.link = None, link
        out._client, out._error, out._thread = client, None, None
        return out

    def _start_catching(self, workers: int, warm: Callable[[], object] | None) -> None:
        try:
            self._start(workers, warm)
        except BaseException as exc:  # handed to the caller by ``client``
            self._error = exc

    def _start(self, workers: int, warm: Callable[[], object] | None) -> None:
        from dask.distributed import Client, LocalCluster

        if self.link is not None:
            self._client = _connect(self.link, Client)
        else:
            import dask

            env = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                    "MKL_NUM_THREADS")}
            with dask.config.set(LOCAL_WORKER_CONFIG):
                # no dashboard; the scheduler's HTTP routes (health, metrics) on a free
                # loopback port, not 8787, which another command's cluster may hold
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                            processes=True, host="127.0.0.1",
                                            dashboard_address=None, env=env, silence_logs=50,
                                            scheduler_kwargs={"dashboard_address":
                                                              "127.0.0.1:0"})
            self._client = Client(self.cluster)
        if warm is not None:
            self._client.run(warm)

    @property
    def client(self) -> Client:
        """The dask client (waits for a background start to finish)."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._client is not None
        return self._client

    @property
    def workers(self) -> int:
        """Workers connected to the scheduler."""
        return len(self.client.scheduler_info()["workers"])

    def check_workers(self, folder: Path) -> None:
        """Refuse an existing scheduler's workers that cannot write ``folder`` or run other code.

        Workers write the replicate folders into ``folder`` themselves and this machine reads
        them back, so ``folder`` must be one folder, at the same path, for both. This machine
        writes a probe file with a random token there; every connected worker must read the
        token, be allowed to write there and run the same code (:func:`code_version`). The
        probe is removed. A local cluster passes without a probe (same machine, same code).

        Raises:
            InputError: A worker does not see ``folder`` (or cannot write it), runs other code,
                or cannot run the probe (no evflex of this version installed there).
        """
        if self.link is None:
            return
        from environment.experiments.fingerprint import code_version

        folder = folder.absolute()
        token = secrets.token_hex(8)
        probe = folder / f".probe-{token}"
        probe.write_text(token)
        try:
            views = self.client.run(worker_view, str(folder), probe.name, token)
        except Exception as exc:  # unpickling fails on a worker without this code
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise InputError(f"{self.link.source}: the workers of {self.link.address} cannot "
                             f"run evflex's probe ({reason}); install this evflex on every "
                             "worker machine") from None
        finally:
            probe.unlink(missing_ok=True)
        mine = code_version()
        for addr, view in sorted(views.items()):
            where = f"worker {addr} on host {view['host']}"
            if not view["sees_folder"]:
                raise InputError(f"--out {folder}: {where} does not see this folder (workers "
                                 "write the replicates there); put --out on a filesystem "
                                 "shared by every worker and this machine, at the same path")
            if not view["writable"]:
                raise InputError(f"--out {folder}: {where} cannot write there; give the "
                                 "workers' user write permission on it")
            if view["code"] != mine:
                raise InputError(f"{self.link.source}: {where} runs evflex {view['code']}, "
                                 f"this machine {mine}; install the same evflex on every "
                                 "worker machine")

    def share(self, tasks: Sequence[T], here: Callable[[T], R],
              there: Callable[[Client], Callable[[T], Future]],
              done: Callable[[int, R], None]) -> None:
        """Run every task once, in this thread and on the workers at the same time.

        This thread takes tasks from the front of one queue and runs them (``here``); as soon
        as the cluster is up, each worker thread is sent the next task of the same queue
        (``there(client)`` makes the submitting function once, e.g. after scattering what the
        tasks share) and, whenever one of its tasks finishes, the next. So this process
        solves while the workers start and between their results, and no worker holds a
        queued task another could have started. ``done(i, result)`` is called in this thread
        for every task ``i``, in the order they finish; a task's result must not depend on
        where it ran (a task sent back, below, runs here).

        If the workers cannot take tasks (the cluster did not start, ``there`` failed), this
        thread runs them all and a ``RuntimeWarning`` says why. A task whose future is
        cancelled or lost (its worker died with the data scattered to it) goes back to the
        queue, and that worker is sent nothing more.

        Raises:
            Exception: The first error of a task, here or on a worker; the tasks still running
                on the workers are cancelled.
        """
        if not tasks:
            return
        q: _TaskQueue[T] = _TaskQueue(tasks)
        clients: list[Client] = []
        unable: list[BaseException] = []

        def start() -> None:
            try:
                clients.append(self.client)
                if q.empty():
                    return
                submit = there(clients[0])
                info = clients[0].scheduler_info()["workers"]
            except BaseException as exc:  # this thread runs every task
                unable.append(exc)
                return
            for _ in range(sum(w["nthreads"] for w in info.values())):
                q.send(submit)

        threading.Thread(target=start, name="cluster-share", daemon=True).start()
        n = 0
        try:
            while n < len(tasks):
                i = q.take()
                if i is None:
                    n += q.collect(done, block=True)
                    continue
                done(i, here(tasks[i]))
                n += 1
                while n < len(tasks) and q.collect(done, block=False):
                    n += 1
        except BaseException:
            q.clear()  # nothing more is sent
            if clients and q.sent:
                clients[0].cancel(q.sent)
            raise
        if unable:
            warnings.warn(f"the dask workers took no task ({type(unable[0]).__name__}: "
                          f"{unable[0]}); this process ran them all", RuntimeWarning,
                          stacklevel=2)

    def close(self) -> None:
        """Shut the client (and the local cluster) down; an existing scheduler keeps running."""
        if self._thread is not None:
            self._thread.join()
        if self._client is not None:
            self._client.close()
        if self.cluster is not None:
            self.cluster.close()


class _TaskQueue(Generic[T]):
    """The tasks of one :meth:`Cluster.share`: the numbers not yet taken (locked) and what
    the workers sent back, read by the sharing thread."""

    def __init__(self, tasks: Sequence[T]) -> None:
        self.tasks = tasks
        self.lock = threading.Lock()
        self.todo = deque(range(len(tasks)))
        self.sent: list[Future] = []  # a future no longer referenced is released by dask
        self.finished: queue.Queue[tuple[int, Any, BaseException | None]] = queue.Queue()

    def take(self) -> int | None:
        """The next task's number, or ``None``."""
        with self.lock:
            return self.todo.popleft() if self.todo else None

    def empty(self) -> bool:
        """Whether every task has been taken."""
        with self.lock:
            return not self.todo

    def clear(self) -> None:
        """Take no more tasks."""
        with self.lock:
            self.todo.clear()

    def send(self, submit: Callable[[T], Future]) -> None:
        """Submit the next task; when it lands, queue its future and send the next. A future
        cancelled or lost (its worker died with the data scattered to it) puts its task back
        at the front, and nothing more goes down that line."""
        i = self.take()
        if i is None:
            return
        try:
            fut = submit(self.tasks[i])
            self.sent.append(fut)

            def landed(f: Future, i: int = i) -> None:
                if f.status in ("cancelled", "lost"):
                    with self.lock:
                        self.todo.appendleft(i)
                    self.finished.put((-1, None, None))  # wakes the sharing thread up
                    return
                self.finished.put((i, f, None))
                self.send(submit)

            fut.add_done_callback(landed)
        except BaseException as exc:  # raised in the sharing thread
            self.finished.put((i, None, exc))

    def collect(self, done: Callable[[int, Any], None], block: bool) -> int:
        """Hand one landed result to ``done`` (1), or none (0); raise a task's error."""
        try:
            i, fut, exc = self.finished.get(block=block)
        except queue.Empty:
            return 0
        if exc is not None:
            raise exc
        if fut is None:  # a task put back
            return 0
        done(i, fut.result())
        return 1


def _connect(link: SchedulerLink, client_type: type) -> Client:
    """A client of the scheduler behind ``link`` with at least one worker (``Cluster``)."""
    try:
        client = client_type(link.address, security=link.security(), timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:  # ssl.SSLError is an OSError
        reason = (str(exc) or type(exc).__name__).splitlines()[0]
        hint = ("; check that --tls-ca-file signed the scheduler's certificate and the "
                "scheduler's CA signed --tls-cert" if link.encrypted else
                "; start 'dask scheduler' there first (one started with --protocol tls "
                "has a tls:// address)")
        raise InputError(f"{link.source}: cannot reach {link.address} ({reason}){hint}") \
            from None
    try:
        client.wait_for_workers(1, timeout=Cluster.WORKER_WAIT_S)
    except (TimeoutError, OSError):
        client.close()
        raise InputError(f"{link.source}: the scheduler at {link.address} has no worker after "
                         f"{Cluster.WORKER_WAIT_S:g} s; start 'dask worker {link.address}' on "
                         "each machine first") from None
    return client


def worker_view(folder: str, probe_name: str, token: str) -> dict[str, object]:
    """What a worker sees of the run folder, and its code version (``Cluster.check_workers``).

    Args:
        folder: The run folder, absolute, as this machine names it.
        probe_name: File in it holding ``token``.
        token: The random token this machine wrote.

    Returns:
        ``sees_folder`` (the token read back), ``writable``, ``code`` and ``host``.
    """
    from environment.experiments.fingerprint import code_version

    try:
        seen = (Path(folder) / probe_name).read_text() == token
    except OSError:
        seen = False
    return {"sees_folder": seen, "writable": os.access(folder, os.W_OK | os.X_OK),
            "code": code_version(), "host": socket.gethostname()}
