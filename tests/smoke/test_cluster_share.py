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


def test_no_tasks_no_work(cluster):
    calls: list[int] = []
    cluster.share([], _square, _submitter(_square), lambda i, res: calls.append(i))
    assert calls == []


def test_workers_unable_this_process_runs_all(cluster):
    def there(client):
        raise OSError("scatter failed")

    got: dict[int, tuple[int, int]] = {}
    with pytest.warns(RuntimeWarning, match="scatter failed"):
        cluster.share(list(range(30)), _square, there, got.__setitem__)
    assert sorted(got) == list(range(30))
    assert {pid for pid, _ in got.values()} == {os.getpid()}


def test_a_failing_submit_reaches_the_caller(cluster):
    def there(client):
        def submit(x):
            raise TypeError("cannot pickle")
        return submit

    with pytest.raises(TypeError, match="cannot pickle"):
        cluster.share(list(range(30)), _square, there, lambda i, res: None)


def _die_once(data: list[int], x: int, marker: str) -> tuple[int, int]:
    if not os.path.exists(marker):  # the worker's first task
        open(marker, "w").close()
        os._exit(1)  # the worker dies with the data scattered to it
    assert data == [1, 2, 3]
    return _square(x)


def test_a_task_of_a_dead_worker_runs_here(tmp_path):
    marker = str(tmp_path / "died")
    c = Cluster(1)
    try:
        def there(client):
            d = client.scatter([1, 2, 3], broadcast=True, hash=False)
            return lambda x: client.submit(_die_once, d, x, marker, pure=False)

        got: dict[int, tuple[int, int]] = {}
        c.share(list(range(30)), _square, there, got.__setitem__)
    finally:
        c.close()
    assert os.path.exists(marker)  # the worker did die
    assert [got[i][1] for i in range(30)] == [x * x for x in range(30)]
