"""``Cluster.share``: this process and a local dask worker take tasks from one queue.

Every task runs exactly once, where it ran does not change its result, both places run some,
and an error (in a worker's task or in this process's) reaches the caller, after which no
further task is sent.
"""

import os
import threading
import time

import pytest

from environment.experiments.cluster import Cluster


def _square(x: int) -> tuple[int, int]:
    time.sleep(0.05)
    return os.getpid(), x * x


def _fail_on_7(x: int) -> tuple[int, int]:
    if x == 7:
        raise ValueError("task 7 failed")
    return _square(x)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(1)
    yield c
    c.close()


def _submitter(fn):
    def there(client):
        return lambda x: client.submit(fn, x, pure=False)
    return there


def test_every_task_once_and_both_places_work(cluster):
    tasks = list(range(40))
    got: dict[int, tuple[int, int]] = {}
    calls: list[int] = []

    def done(i, res):
        assert threading.current_thread() is threading.main_thread()
        calls.append(i)
        got[i] = res

    cluster.share(tasks, _square, _submitter(_square), done)
    assert sorted(calls) == tasks  # each reported once
    assert [got[i][1] for i in tasks] == [x * x for x in tasks]
    pids = {pid for pid, _ in got.values()}
    assert os.getpid() in pids and len(pids) == 2  # this process and the worker


def test_a_worker_error_reaches_the_caller(cluster):
    tasks = list(range(40))
    with pytest.raises(ValueError, match="task 7 failed"):
        cluster.share(tasks, lambda x: _square(x) if x != 7 else _fail_on_7(x),
                      _submitter(_fail_on_7), lambda i, res: None)


def test_an_error_here_stops_sending(cluster):
    sent: list[int] = []

    def there(client):
        def submit(x):
            sent.append(x)
            return client.submit(_square, x, pure=False)
        return submit

    def here(x):
        raise RuntimeError("here failed")

    with pytest.raises(RuntimeError, match="here failed"):
        cluster.share(list(range(200)), here, there, lambda i, res: None)
    time.sleep(0.5)  # tasks in flight land; none follows them
    n = len(sent)
    time.sleep(0.5)
    assert len(sent) == n < 200
