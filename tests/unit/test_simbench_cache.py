"""The SimBench cache returns the network SimBench's CSVs give."""

import pickle

import numpy as np
import pytest

from grid.feeder import load_feeder
from grid.simbench_cache import cache_dir
from grid.sparse_ac import SparseAc

pytest.importorskip("simbench")
CODE = "1-LV-rural1--0-sw"


def test_cached_network_gives_the_same_feeder_and_power_flow(tmp_path, monkeypatch):
    monkeypatch.setenv("EVFLEX_CACHE_DIR", "off")
    fresh = load_feeder(CODE)
    monkeypatch.setenv("EVFLEX_CACHE_DIR", str(tmp_path))
    first = load_feeder(CODE)  # reads the CSVs, writes the cache
    files = list((tmp_path / "simbench").glob("*.pkl"))
    assert len(files) == 1 and CODE in files[0].name
    cached = load_feeder(CODE)  # from the cache
    for fe in (first, cached):
        assert fe.bus_index.tolist() == fresh.bus_index.tolist()
        np.testing.assert_array_equal(fe.r_pu, fresh.r_pu)
        np.testing.assert_array_equal(fe.i_max_ka, fresh.i_max_ka)
        np.testing.assert_array_equal(fe.load_p_kw, fresh.load_p_kw)
    rng = np.random.default_rng(0)
    scale = rng.uniform(0.2, 1.5, (4, fresh.n_bus))
    p, q = fresh.load_p_kw * scale, fresh.load_q_kvar * scale
    a, b = SparseAc(fresh).solve(p, q), SparseAc(cached).solve(p, q)
    np.testing.assert_array_equal(a.vm_pu, b.vm_pu)
    np.testing.assert_array_equal(a.loading_pct, b.loading_pct)


def test_damaged_cache_file_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv("EVFLEX_CACHE_DIR", str(tmp_path))
    load_feeder(CODE)
    (path,) = (tmp_path / "simbench").glob("*.pkl")
    path.write_bytes(b"not a pickle")
    fe = load_feeder(CODE)
    assert fe.n_bus > 10
    assert pickle.loads(path.read_bytes()).bus.shape[0] > 10  # rewritten whole


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv("EVFLEX_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "evflex"
    monkeypatch.setenv("EVFLEX_CACHE_DIR", "OFF")
    assert cache_dir() is None
